package dev.invokerguard.verifier;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Picks the bearer token out of request headers, judging the same header the platform judged.
 * Google's front end checks {@code X-Serverless-Authorization} when it is present and then ignores
 * {@code Authorization} (which the caller may use for its own purposes), so when both are present
 * only the former is read here, and never the latter as a fallback.
 */
final class BearerHeaders {
  static final String SERVERLESS_AUTHORIZATION = "X-Serverless-Authorization";
  static final String AUTHORIZATION = "Authorization";

  /** Larger than any Google ID token (about 1 KiB), small enough that parsing it is cheap. */
  static final int MAX_HEADER_CHARS = 16 * 1024;

  private static final String BEARER = "Bearer";

  private BearerHeaders() {}

  /**
   * Returns the token of the judged header, after the checks that do not walk the token; the caller
   * then applies {@link #requireSingleToken} unless the token is a verified one.
   *
   * @param headers header names to values; names are matched case-insensitively whatever the map
   */
  static String token(Map<String, ? extends List<String>> headers) throws CallerRejectedException {
    List<String> serverless = null;
    List<String> authorization = null;
    for (Map.Entry<String, ? extends List<String>> header : headers.entrySet()) {
      String name = header.getKey();
      if (name == null) {
        continue;
      }
      if (SERVERLESS_AUTHORIZATION.equalsIgnoreCase(name)) {
        serverless = append(serverless, header.getValue());
      } else if (AUTHORIZATION.equalsIgnoreCase(name)) {
        authorization = append(authorization, header.getValue());
      }
    }
    List<String> judged = serverless != null ? serverless : authorization;
    if (judged == null) {
      throw new CallerRejectedException(
          Reason.MISSING_CREDENTIALS, "expected an Authorization: Bearer header, got none");
    }
    if (judged.size() != 1) {
      throw new CallerRejectedException(
          Reason.MALFORMED_HEADER, "expected one credentials header value, got " + judged.size());
    }
    return bearer(judged.get(0));
  }

  private static List<String> append(List<String> sofar, List<String> values) {
    List<String> all = sofar == null ? new ArrayList<>(1) : sofar;
    if (values != null) {
      all.addAll(values);
    }
    return all;
  }

  /**
   * RFC 6750 section 2.1: {@code "Bearer" 1*SP b64token}; the scheme is case-insensitive. Leading
   * and trailing whitespace is ignored. Works on indices, without copying the value: this runs on
   * every request, and the only copy made is the token returned.
   */
  private static String bearer(String value) throws CallerRejectedException {
    int start = 0;
    int end = value == null ? 0 : value.length();
    while (start < end && Character.isWhitespace(value.charAt(start))) {
      start++;
    }
    while (end > start && Character.isWhitespace(value.charAt(end - 1))) {
      end--;
    }
    if (start == end) {
      throw new CallerRejectedException(
          Reason.MISSING_CREDENTIALS, "expected a Bearer token, got an empty header");
    }
    if (value.length() > MAX_HEADER_CHARS) {
      throw new CallerRejectedException(
          Reason.MALFORMED_HEADER,
          "credentials header is "
              + value.length()
              + " chars, over the cap of "
              + MAX_HEADER_CHARS);
    }
    int space = value.indexOf(' ', start);
    int schemeEnd = space < 0 || space >= end ? end : space;
    if (schemeEnd - start != BEARER.length()
        || !value.regionMatches(true, start, BEARER, 0, BEARER.length())) {
      throw new CallerRejectedException(
          Reason.UNSUPPORTED_SCHEME, "expected the Bearer scheme, got another scheme");
    }
    int tokenStart = schemeEnd;
    while (tokenStart < end && value.charAt(tokenStart) == ' ') {
      tokenStart++;
    }
    if (tokenStart >= end) {
      throw new CallerRejectedException(Reason.MALFORMED_HEADER, "expected a token after Bearer");
    }
    return value.substring(tokenStart, end);
  }

  /**
   * Rejects a token taken from a header that holds more than one token: whitespace or a comma
   * inside it (RFC 6750's b64token has neither). Separate from {@link #token} because it walks the
   * whole token: {@link CallerVerifier} calls it only when the token cache missed, since a string
   * equal to a cached token, which passed every check, cannot contain either.
   */
  static void requireSingleToken(String token) throws CallerRejectedException {
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      // Printable ASCII other than ',' is decided at once; the rest asks the full rule.
      if ((c <= ' ' || c == ',' || c > '~') && (c == ',' || Character.isWhitespace(c))) {
        throw new CallerRejectedException(
            Reason.MALFORMED_HEADER, "expected a single token after Bearer");
      }
    }
  }
}
