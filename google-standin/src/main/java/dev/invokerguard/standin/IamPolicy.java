package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * One resource's IAM policy as Google keeps it: bindings (role, members, optional condition), a
 * base64 etag that changes with every write (gcloud refuses an etag that is not base64), version 1,
 * or 3 when a binding has a condition. Every version is kept with the time it was written, so the
 * front end can see a policy as it was some time ago (IAM propagation delay). Thread-safe.
 */
final class IamPolicy {
  /** Google's etag of a policy that was never written. */
  static final String EMPTY_ETAG = "ACAB";

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

  /** getIamPolicy: 400 when conditions exist and the caller did not ask for version 3. */
  synchronized JsonObject get(int requestedVersion) {
    JsonObject current = current();
    if (hasConditions(current) && requestedVersion < 3) {
      throw new ApiException(
          400,
          "INVALID_ARGUMENT",
          "The policy has conditional role bindings: request policy version 3 to read it");
    }
    return current.deepCopy();
  }

  /** setIamPolicy: 409 ABORTED when the etag given is not the current one. */
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
