package dev.invokerguard.verifier;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How long a fetched key set stays fresh, from the response's {@code Cache-Control} and {@code Age}
 * fields (RFC 9111).
 *
 * <p>The freshness lifetime is {@code max-age} (section 5.2.2.1) minus the age the response already
 * had (the {@code Age} field, section 5.1; section 4.2.3 with the request time as the base). Google
 * sends for example {@code Cache-Control: public, max-age=22187, must-revalidate, no-transform}.
 *
 * <ul>
 *   <li>No {@code max-age}, or {@code no-store} / {@code no-cache} (which this cache cannot honour
 *       by revalidating on every request): the configured default lifetime.
 *   <li>A {@code max-age} that is not a number, or several {@code max-age} directives: the response
 *       is treated as stale, as section 4.2.1 encourages, so the lifetime is zero before clamping.
 *   <li>An {@code Age} that is not a non-negative integer is ignored (section 5.1); of a list, the
 *       first member counts.
 * </ul>
 *
 * The result is clamped to {@code [min, max]}: the lower bound keeps a zero or negative lifetime
 * from turning every request into a fetch, the upper bound keeps a huge {@code max-age} from
 * pinning a key set for days.
 */
final class CacheFreshness {
  /** RFC 9111 section 1.2.2: delta-seconds too large to represent are taken as 2^31. */
  private static final long DELTA_SECONDS_CAP = 2_147_483_648L;

  private CacheFreshness() {}

  /**
   * The freshness lifetime of a response.
   *
   * @param cacheControl every {@code Cache-Control} field line of the response (possibly none)
   * @param age every {@code Age} field line of the response (possibly none)
   * @param defaultTtl the lifetime when the response states none
   * @param min the shortest lifetime returned
   * @param max the longest lifetime returned
   */
  static Duration ttl(
      List<String> cacheControl,
      List<String> age,
      Duration defaultTtl,
      Duration min,
      Duration max) {
    Duration ttl = unclamped(cacheControl, age, defaultTtl);
    if (ttl.compareTo(max) > 0) {
      ttl = max;
    }
    if (ttl.compareTo(min) < 0) {
      ttl = min;
    }
    return ttl;
  }

  private static Duration unclamped(List<String> cacheControl, List<String> age, Duration dflt) {
    long maxAge = -1;
    int maxAgeCount = 0;
    boolean noCache = false;
    for (String line : cacheControl) {
      for (String directive : splitList(line)) {
        int eq = directive.indexOf('=');
        String name = (eq < 0 ? directive : directive.substring(0, eq)).trim();
        name = name.toLowerCase(Locale.ROOT);
        switch (name) {
          case "no-store", "no-cache" -> noCache = true;
          case "max-age" -> {
            maxAgeCount++;
            // Section 5.2: a recipient should accept the quoted form of a token argument too.
            maxAge = eq < 0 ? -1 : deltaSeconds(unquote(directive.substring(eq + 1).trim()));
          }
          default -> {
            // Other directives (public, must-revalidate, no-transform, ...) change nothing here.
          }
        }
      }
    }
    if (noCache || maxAgeCount == 0) {
      return dflt;
    }
    if (maxAgeCount > 1 || maxAge < 0) {
      return Duration.ZERO; // invalid freshness information: stale
    }
    long ageSeconds = 0;
    if (!age.isEmpty()) {
      List<String> members = splitList(age.get(0));
      long parsed = members.isEmpty() ? -1 : deltaSeconds(members.get(0));
      ageSeconds = Math.max(parsed, 0);
    }
    return Duration.ofSeconds(Math.max(maxAge - ageSeconds, 0));
  }

  /** RFC 9111 section 1.2.2: {@code 1*DIGIT}; -1 when the text is not that. */
  private static long deltaSeconds(String text) {
    if (text.isEmpty()) {
      return -1;
    }
    long value = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      value = Math.min(value * 10 + (c - '0'), DELTA_SECONDS_CAP);
    }
    return value;
  }

  private static String unquote(String text) {
    if (text.length() >= 2 && text.startsWith("\"") && text.endsWith("\"")) {
      return text.substring(1, text.length() - 1);
    }
    return text;
  }

  /**
   * The members of a comma-separated field value (RFC 9110 section 5.6.1), trimmed, empty ones
   * dropped; commas inside a quoted-string (section 5.6.4, e.g. {@code private="a, b"}) do not
   * split.
   */
  private static List<String> splitList(String value) {
    List<String> members = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (quoted && c == '\\' && i + 1 < value.length()) {
        current.append(c).append(value.charAt(++i));
        continue;
      }
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        addTrimmed(members, current);
        current.setLength(0);
        continue;
      }
      current.append(c);
    }
    addTrimmed(members, current);
    return members;
  }

  private static void addTrimmed(List<String> members, CharSequence member) {
    String trimmed = member.toString().trim();
    if (!trimmed.isEmpty()) {
      members.add(trimmed);
    }
  }
}
