package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * One resource's IAM policy as Google keeps it: bindings (role, members, optional condition), a
 * base64 etag that changes with every write (gcloud refuses an etag that is not base64), version 1,
 * or 3 when a binding has a condition. Every version is kept with the time it was written, so the
 * front end can see a policy as it was some time ago (IAM propagation delay). Thread-safe.
 *
 * <p>Policy versions, as Google's IAM documents them ("Policy versions", "Troubleshooting
 * withcond"): a read at a requested version below 3 of a policy with conditions shows each
 * conditional binding as the role {@code ROLE_withcond_HASH} without its condition, version 1. A
 * version-1 write with an etag is checked against the stored policy: its {@code _withcond_}
 * bindings stand for the conditional bindings they name, and a write that would change or drop a
 * conditional binding, or drop a role binding, is refused (400), since only version 3 may; a
 * version-1 write that only adds keeps the conditions. A version-1 write without an etag replaces
 * the policy and its conditions are lost, as the documentation warns.
 */
final class IamPolicy {
  /** Google's etag of a policy that was never written. */
  static final String EMPTY_ETAG = "ACAB";

  private static final String WITHCOND = "_withcond_";

  private record Version(Instant writtenAt, JsonObject policy) {}

  private final Clock clock;
  private final List<Version> history = new ArrayList<>();
  private long writes;

  IamPolicy(Clock clock) {
    this.clock = clock;
    JsonObject empty = new JsonObject();
    empty.addProperty("etag", EMPTY_ETAG);
    history.add(new Version(Instant.MIN, empty));
  }

  /**
   * getIamPolicy: below version 3 a policy with conditions is shown as version 1, each conditional
   * binding as the role {@code ROLE_withcond_HASH} without its condition.
   */
  synchronized JsonObject get(int requestedVersion) {
    JsonObject current = current();
    if (!hasConditions(current) || requestedVersion >= 3) {
      return current.deepCopy();
    }
    JsonObject view = current.deepCopy();
    view.addProperty("version", 1);
    for (JsonElement element : view.getAsJsonArray("bindings")) {
      JsonObject binding = element.getAsJsonObject();
      if (binding.has("condition")) {
        binding.addProperty("role", withcondRole(binding));
        binding.remove("condition");
      }
    }
    return view;
  }

  /** The role a version-1 read shows for a conditional binding: ROLE_withcond_ and a hash. */
  static String withcondRole(JsonObject conditionalBinding) {
    String role = Json.string(conditionalBinding, "role");
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(
                  (role + "\n" + conditionalBinding.get("condition"))
                      .getBytes(StandardCharsets.UTF_8));
      return role + WITHCOND + HexFormat.of().formatHex(digest).substring(0, 20);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * setIamPolicy: 409 ABORTED when the etag given is not the current one; a version-1 write to a
   * policy with conditions is checked as the class comment says.
   */
  synchronized JsonObject set(JsonObject requested) {
    JsonObject current = current();
    String etag = Json.string(requested, "etag");
    if (etag != null && !etag.equals(Json.string(current, "etag"))) {
      throw new ApiException(
          409,
          "ABORTED",
          "There were concurrent policy changes. Please retry the whole read-modify-write with"
              + " exponential backoff.");
    }
    int requestedVersion = requested.has("version") ? requested.get("version").getAsInt() : 1;
    if (requestedVersion < 3 && hasConditions(current)) {
      requested =
          etag == null ? withoutWithcond(requested) : checkedVersion1Write(current, requested);
    }
    JsonObject stored = new JsonObject();
    JsonArray bindings = new JsonArray();
    boolean conditions = false;
    if (requested.has("bindings")) {
      if (!requested.get("bindings").isJsonArray()) {
        throw new ApiException(400, "INVALID_ARGUMENT", "bindings must be a list");
      }
      for (JsonElement element : requested.getAsJsonArray("bindings")) {
        JsonObject binding = element.isJsonObject() ? element.getAsJsonObject() : null;
        if (binding == null || Json.string(binding, "role") == null) {
          throw new ApiException(400, "INVALID_ARGUMENT", "every binding needs a role");
        }
        if (!binding.has("members") || binding.getAsJsonArray("members").isEmpty()) {
          continue; // Google drops bindings without members
        }
        for (JsonElement member : binding.getAsJsonArray("members")) {
          checkMember(member.getAsString());
        }
        conditions |= binding.has("condition");
        bindings.add(binding.deepCopy());
      }
    }
    int version = requested.has("version") ? requested.get("version").getAsInt() : 1;
    if (conditions && version < 3) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "A policy with conditional role bindings must be version 3");
    }
    stored.addProperty("version", conditions ? 3 : 1);
    stored.addProperty("etag", nextEtag());
    if (!bindings.isEmpty()) {
      stored.add("bindings", bindings);
    }
    history.add(new Version(clock.instant(), stored));
    return stored.deepCopy();
  }

  /**
   * Whether {@code member} (e.g. {@code serviceAccount:a@p.iam.gserviceaccount.com}) holds {@code
   * role} without a condition in the policy as it was at {@code at}. A conditional binding grants
   * nothing here: the stand-in does not evaluate conditions.
   */
  synchronized boolean grants(String role, String member, Instant at) {
    JsonObject policy = history.get(0).policy();
    for (Version version : history) {
      if (!version.writtenAt().isAfter(at)) {
        policy = version.policy();
      }
    }
    if (!policy.has("bindings")) {
      return false;
    }
    for (JsonElement element : policy.getAsJsonArray("bindings")) {
      JsonObject binding = element.getAsJsonObject();
      if (!role.equals(Json.string(binding, "role")) || binding.has("condition")) {
        continue;
      }
      for (JsonElement granted : binding.getAsJsonArray("members")) {
        if (sameMember(granted.getAsString(), member)) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean sameMember(String granted, String member) {
    // Emails are case-insensitive; the kinds (serviceAccount:, user:, allUsers) are not.
    int colon = granted.indexOf(':');
    if (colon < 0 || member.indexOf(':') != colon) {
      return granted.equals(member);
    }
    return granted.substring(0, colon).equals(member.substring(0, colon))
        && granted
            .substring(colon + 1)
            .toLowerCase(Locale.ROOT)
            .equals(member.substring(colon + 1).toLowerCase(Locale.ROOT));
  }

  private static void checkMember(String member) {
    if (member.equals("allUsers") || member.equals("allAuthenticatedUsers")) {
      return;
    }
    int colon = member.indexOf(':');
    String kind = colon < 0 ? "" : member.substring(0, colon);
    if (!List.of("serviceAccount", "user", "group", "domain", "principal", "principalSet")
            .contains(kind)
        || member.length() == colon + 1) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "Invalid member type in policy: '" + member + "'");
    }
  }

  /**
   * A version-1 write with the current etag to a policy with conditions, as version 3: each {@code
   * _withcond_} binding becomes the conditional binding it names. Refused when the write would
   * change or drop a conditional binding, or drop a role binding (which only version 3 may do).
   */
  private static JsonObject checkedVersion1Write(JsonObject current, JsonObject requested) {
    JsonArray stored = current.getAsJsonArray("bindings");
    JsonArray written = new JsonArray();
    if (requested.has("bindings") && requested.get("bindings").isJsonArray()) {
      for (JsonElement element : requested.getAsJsonArray("bindings")) {
        JsonObject binding = element.isJsonObject() ? element.getAsJsonObject() : new JsonObject();
        String role = Json.string(binding, "role");
        if (role != null && role.contains(WITHCOND)) {
          JsonObject named = null;
          for (JsonElement s : stored) {
            if (s.getAsJsonObject().has("condition")
                && withcondRole(s.getAsJsonObject()).equals(role)) {
              named = s.getAsJsonObject();
            }
          }
          if (named == null) {
            throw version3Needed();
          }
          JsonObject restored = named.deepCopy();
          restored.add("members", binding.get("members"));
          binding = restored;
        }
        written.add(binding);
      }
    }
    for (JsonElement s : stored) {
      JsonObject old = s.getAsJsonObject();
      boolean kept = false;
      for (JsonElement w : written) {
        JsonObject now = w.getAsJsonObject();
        if (old.has("condition")) {
          kept |=
              old.get("condition").equals(now.get("condition"))
                  && Json.string(old, "role").equals(Json.string(now, "role"))
                  && memberSet(old).equals(memberSet(now));
        } else {
          kept |=
              !now.has("condition") && Json.string(old, "role").equals(Json.string(now, "role"));
        }
      }
      if (!kept) {
        throw version3Needed();
      }
    }
    JsonObject out = requested.deepCopy();
    out.add("bindings", written);
    out.addProperty("version", 3);
    return out;
  }

  /** A version-1 write without an etag: it replaces the policy, conditions and all. */
  private static JsonObject withoutWithcond(JsonObject requested) {
    JsonObject out = requested.deepCopy();
    if (out.has("bindings") && out.get("bindings").isJsonArray()) {
      JsonArray kept = new JsonArray();
      for (JsonElement binding : out.getAsJsonArray("bindings")) {
        String role = binding.isJsonObject() ? Json.string(binding.getAsJsonObject(), "role") : "";
        if (role == null || !role.contains(WITHCOND)) {
          kept.add(binding);
        }
      }
      out.add("bindings", kept);
    }
    return out;
  }

  private static ApiException version3Needed() {
    return new ApiException(
        400,
        "INVALID_ARGUMENT",
        "The policy has conditional role bindings: changing or removing a conditional role"
            + " binding, or removing any role binding, requires policy version 3.");
  }

  private static java.util.Set<String> memberSet(JsonObject binding) {
    java.util.Set<String> out = new java.util.TreeSet<>();
    if (binding.has("members") && binding.get("members").isJsonArray()) {
      binding.getAsJsonArray("members").forEach(m -> out.add(m.getAsString()));
    }
    return out;
  }

  private JsonObject current() {
    return history.get(history.size() - 1).policy();
  }

  private static boolean hasConditions(JsonObject policy) {
    if (!policy.has("bindings")) {
      return false;
    }
    for (JsonElement binding : policy.getAsJsonArray("bindings")) {
      if (binding.getAsJsonObject().has("condition")) {
        return true;
      }
    }
    return false;
  }

  private String nextEtag() {
    writes++;
    return Base64.getEncoder()
        .encodeToString(ByteBuffer.allocate(8).putLong(0x07_0000_0000_0000L + writes).array());
  }
}
