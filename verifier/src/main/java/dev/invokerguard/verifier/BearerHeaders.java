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

  private BearerHeaders() {}

  /**
   * Returns the token of the judged header.
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
          Reason.MALFORMED_HEADER,
          "expected one credentials header value, got " + judged.size());
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

  /** RFC 6750 section 2.1: {@code "Bearer" 1*SP b64token}; the scheme is case-insensitive. */
  private static String bearer(String value) throws CallerRejectedException {
    if (value == null || value.isBlank()) {
      throw new CallerRejectedException(
          Reason.MISSING_CREDENTIALS, "expected a Bearer token, got an empty header");
    }
    if (value.length() > MAX_HEADER_CHARS) {
      throw new CallerRejectedException(
          Reason.MALFORMED_HEADER,
          "credentials header is " + value.length() + " chars, over the cap of " + MAX_HEADER_CHARS);
    }
    String trimmed = value.strip();
    int space = trimmed.indexOf(' ');
    String scheme = space < 0 ? trimmed : trimmed.substring(0, space);
    if (!"Bearer".equalsIgnoreCase(scheme)) {
      throw new CallerRejectedException(
          Reason.UNSUPPORTED_SCHEME, "expected the Bearer scheme, got another scheme");
    }
    int start = space;
    while (start >= 0 && start < trimmed.length() && trimmed.charAt(start) == ' ') {
      start++;
    }
    if (start < 0 || start >= trimmed.length()) {
      throw new CallerRejectedException(Reason.MALFORMED_HEADER, "expected a token after Bearer");
    }
    String token = trimmed.substring(start);
    for (int i = 0; i < token.length(); i++) {
      if (Character.isWhitespace(token.charAt(i)) || token.charAt(i) == ',') {
        throw new CallerRejectedException(
            Reason.MALFORMED_HEADER, "expected a single token after Bearer");
      }
    }
    return token;
  }
}
