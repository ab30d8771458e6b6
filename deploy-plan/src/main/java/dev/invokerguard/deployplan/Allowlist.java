package dev.invokerguard.deployplan;

import dev.invokerguard.verifier.ServiceAccountAllowlist;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The allowlist as deploy.sh takes it: comma-separated values (each {@code --allow}, or {@code
 * INVOKER_GUARD_ALLOW}) of {@code EMAIL}, {@code EMAIL=UNIQUE_ID} or {@code UNIQUE_ID}. Every email
 * and ID is judged by {@link ServiceAccountAllowlist}'s own rules, so deploy.sh never grants IAM to
 * an account the guard would refuse, nor refuses one it would accept.
 */
final class Allowlist {
  private Allowlist() {}

  /**
   * The entries, trimmed, checked, lower-cased, once each in first-seen order, as {@code EMAIL},
   * {@code EMAIL=ID} or {@code ID}. Empty items (a trailing or doubled comma) are errors. The same
   * account twice in different forms is refused. Stops at the first bad entry.
   *
   * @throws UsageError naming the entry at fault
   */
  static List<String> entries(List<String> values) {
    Map<String, String> byKey = new LinkedHashMap<>();
    for (String value : values) {
      for (String raw : value.split(",", -1)) {
        String entry = entry(raw);
        String key = entry.contains("=") ? entry.substring(0, entry.indexOf('=')) : entry;
        String known = byKey.putIfAbsent(key, entry);
        if (known != null && !known.equals(entry)) {
          throw new UsageError("'" + key + "' is listed twice, differently");
        }
      }
    }
    return List.copyOf(new ArrayList<>(byKey.values()));
  }

  private static String entry(String raw) {
    // Spaces around an entry are ignored, as in ALLOWED_INVOKERS; any non-ASCII character (a
    // Unicode space around it too) leaves it unstripped, and the rules below then refuse it.
    String entry = isAscii(raw) ? raw.strip() : raw;
    if (entry.isEmpty()) {
      throw new UsageError("empty entry in the allowlist");
    }
    int equals = entry.indexOf('=');
    if (equals >= 0) {
      String email = entry.substring(0, equals);
      String id = entry.substring(equals + 1);
      if (!ServiceAccountAllowlist.isServiceAccountEmail(email)) {
        throw new UsageError("'" + entry + "': '" + email + "' is not a service-account email");
      }
      if (!ServiceAccountAllowlist.isUniqueId(id)) {
        throw new UsageError(
            "'" + entry + "': '" + id + "' is not a numeric unique ID (10 to 30 digits)");
      }
      return lower(email) + "=" + id;
    }
    if (entry.chars().allMatch(c -> c >= '0' && c <= '9')) {
      if (!ServiceAccountAllowlist.isUniqueId(entry)) {
        throw new UsageError(
            "'" + entry + "' is not a numeric unique ID (10 to 30 digits, no leading zero)");
      }
      return entry;
    }
    if (!ServiceAccountAllowlist.isServiceAccountEmail(entry)) {
      throw new UsageError("'" + entry + "' is not a service-account email or numeric unique ID");
    }
    return lower(entry);
  }

  /** A checked email lower-cased: ASCII only, so the root locale's rules are ASCII's. */
  static String lower(String email) {
    return email.toLowerCase(java.util.Locale.ROOT);
  }

  private static boolean isAscii(String value) {
    return value.chars().allMatch(c -> c <= 0x7F);
  }
}
