package dev.invokerguard.deployplan;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The allowlist completed with what gcloud read: an ID given alone gets its email (needed for the
 * grant), and with {@code --pin-ids} an email given alone gets its ID where describe is allowed.
 *
 * @param emails the IAM members to grant, once each
 * @param invokers the {@code ALLOWED_INVOKERS} entries: the ID where known, else the email
 * @param pinned one line per entry for the summary
 * @param warnings one per email left unpinned
 */
record Callers(
    List<String> emails, List<String> invokers, List<String> pinned, List<String> warnings) {

  /**
   * The reads deploy.sh makes before {@link #of} (fact {@code serviceAccounts}, by entry): the
   * email of each ID given alone and, with {@code --pin-ids}, the unique ID of each email given
   * without one. A failed read is absent: {@link #of} judges it.
   */
  static List<String> reads(Options options) {
    List<String> reads = new ArrayList<>();
    for (String entry : options.entries) {
      String format;
      if (ServiceAccountAllowlist.isUniqueId(entry)) {
        format = "--format=value(email)";
      } else if (options.pinIds && !entry.contains("=")) {
        format = "--format=value(uniqueId)";
      } else {
        continue;
      }
      reads.add(
          Reads.read(
              "serviceAccounts",
              entry,
              List.of("iam", "service-accounts", "describe", entry, format),
              Reads.ANY_FAILURE));
    }
    return reads;
  }

  /**
   * @param reads each ID or email read to what {@code gcloud iam service-accounts describe} printed
   *     (its email, or its unique ID), or null when the read failed
   * @throws UsageError when an ID's email cannot be read
   */
  static Callers of(Options options, JsonObject reads) {
    Set<String> emails = new LinkedHashSet<>();
    List<String> invokers = new ArrayList<>();
    List<String> pinned = new ArrayList<>();
    List<String> warnings = new ArrayList<>();
    for (String entry : options.entries) {
      String email;
      String id = null;
      if (entry.contains("=")) {
        email = entry.substring(0, entry.indexOf('='));
        id = entry.substring(entry.indexOf('=') + 1);
      } else if (ServiceAccountAllowlist.isUniqueId(entry)) {
        id = entry;
        String read = read(reads, id);
        Options.require(
            ServiceAccountAllowlist.isServiceAccountEmail(read),
            "cannot read the email of unique ID "
                + id
                + " (gcloud iam service-accounts describe): pass --allow EMAIL="
                + id);
        email = Allowlist.lower(read);
      } else {
        email = entry;
        if (options.pinIds) {
          String read = read(reads, email);
          if (ServiceAccountAllowlist.isUniqueId(read)) {
            id = read;
          } else {
            warnings.add(
                "cannot read the unique ID of "
                    + email
                    + " (describe is often not allowed across projects): left unpinned; ask its"
                    + " team for the ID and pass --allow "
                    + email
                    + "=UNIQUE_ID");
          }
        }
      }
      emails.add(email);
      if (id != null) {
        invokers.add(id);
        pinned.add(email + " pinned to unique ID " + id);
      } else {
        invokers.add(email);
        pinned.add(email + " not pinned (pin it with --allow " + email + "=UNIQUE_ID)");
      }
    }
    return new Callers(
        List.copyOf(emails), List.copyOf(invokers), List.copyOf(pinned), List.copyOf(warnings));
  }

  private static String read(JsonObject reads, String key) {
    JsonElement value = reads == null ? null : reads.get(key);
    return value == null || !value.isJsonPrimitive() ? "" : value.getAsString().strip();
  }
}
