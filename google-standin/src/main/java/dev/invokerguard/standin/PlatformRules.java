package dev.invokerguard.standin;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What Google's front end does with the credential headers of a request to a function that requires
 * authentication, in one place, so that it can be corrected when Google's documentation says
 * otherwise.
 *
 * <ul>
 *   <li>When {@code X-Serverless-Authorization} is present, the front end judges only that header;
 *       {@code Authorization} is then passed to the function untouched and unchecked (Cloud Run
 *       documents this for callers that need {@code Authorization} for their own scheme).
 *   <li>A token the front end accepted from {@code X-Serverless-Authorization} reaches the function
 *       with its signature replaced by {@code SIGNATURE_REMOVED_BY_GOOGLE} (reported in pomerium
 *       issue 6677); a token from {@code Authorization} reaches it as sent, or stripped as well in
 *       {@link FrontEndMode#STRIP_JUDGED} (others report that; see {@link FrontEndMode}).
 *   <li>With the service's invoker IAM check off nothing is judged and nothing is stripped.
 * </ul>
 */
final class PlatformRules {
  static final String AUTHORIZATION = "Authorization";
  static final String SERVERLESS_AUTHORIZATION = "X-Serverless-Authorization";
  static final String SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE";

  private PlatformRules() {}

  /** The header the front end judges: X-Serverless-Authorization when present. */
  static String judgedHeader(Map<String, List<String>> headers) {
    return first(headers, SERVERLESS_AUTHORIZATION) != null
        ? SERVERLESS_AUTHORIZATION
        : AUTHORIZATION;
  }

  /** The first value of a header, matched case-insensitively, or null. */
  static String first(Map<String, List<String>> headers, String name) {
    for (Map.Entry<String, List<String>> entry : headers.entrySet()) {
      if (entry.getKey().equalsIgnoreCase(name) && !entry.getValue().isEmpty()) {
        return entry.getValue().get(0);
      }
    }
    return null;
  }

  /**
   * The value the function receives for header {@code name} of a request the front end let through,
   * having judged {@code judgedHeader} (null when it judged nothing: the invoker IAM check is off):
   * the judged token's signature removed when {@code mode} says so (always for
   * X-Serverless-Authorization; for Authorization in {@link FrontEndMode#STRIP_JUDGED} only), every
   * other header unchanged.
   */
  static String forwardedValue(String name, String value, String judgedHeader, FrontEndMode mode) {
    boolean stripped =
        judgedHeader != null
            && name.equalsIgnoreCase(judgedHeader)
            && (judgedHeader.equals(SERVERLESS_AUTHORIZATION) || mode == FrontEndMode.STRIP_JUDGED);
    return stripped ? withoutSignature(value) : value;
  }

  /** {@code Bearer H.P.SIGNATURE_REMOVED_BY_GOOGLE}; a value that is no bearer JWT unchanged. */
  static String withoutSignature(String value) {
    String trimmed = value.strip();
    int space = trimmed.indexOf(' ');
    if (space < 0 || !trimmed.substring(0, space).toLowerCase(Locale.ROOT).equals("bearer")) {
      return value;
    }
    String token = trimmed.substring(space + 1).strip();
    int lastDot = token.lastIndexOf('.');
    return lastDot < 0
        ? value
        : trimmed.substring(0, space) + " " + token.substring(0, lastDot + 1) + SIGNATURE_REMOVED;
  }
}
