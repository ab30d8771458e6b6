package dev.invokerguard.verifier;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Picks the bearer token out of request headers, judging the same header the platform judged.
 * Google's front end checks {@code X-Serverless-Authorization} when it is present and passes {@code
 * Authorization} through (which the caller may use for its own purposes), so when both are present
 * the former is judged, and the latter is never a fallback for a bad one. The one use of {@code
 * Authorization} beside it is as the verifiable copy of a token whose signature the platform
 * removed ({@link Credentials#authorizationCopy()}; docs/FUNCTION.md, "Both headers").
 */
final class BearerHeaders {
  static final String SERVERLESS_AUTHORIZATION = "X-Serverless-Authorization";
  static final String AUTHORIZATION = "Authorization";

  /** Larger than any Google ID token (about 1 KiB), small enough that parsing it is cheap. */
  static final int MAX_HEADER_CHARS = 16 * 1024;

  private static final String BEARER = "Bearer";

  private BearerHeaders() {}

  /**
   * What the credentials headers of one request hold: the token of the judged header (after the
   * checks that do not walk it; the caller then applies {@link #requireSingleToken} unless the
   * token is a verified one), which header that was, and the raw {@code Authorization} values, read
   * only when the judged token turns out to be stripped ({@link #authorizationCopy()}).
   */
  static final class Credentials {
    private final String token;
    private final boolean fromServerless;
    private final List<String> authorization;

    private Credentials(String token, boolean fromServerless, List<String> authorization) {
      this.token = token;
      this.fromServerless = fromServerless;
      this.authorization = authorization;
    }

    /** The judged header's token. */
    String token() {
      return token;
    }

    /** Whether the token came from {@code X-Serverless-Authorization}. */
    boolean fromServerless() {
      return fromServerless;
    }

    /** Where {@link #token()} came from, for a token whose signature was not removed. */
    TokenSource intactSource() {
      return fromServerless ? TokenSource.SERVERLESS : TokenSource.AUTHORIZATION;
    }

    /**
     * Where {@link #token()} came from, judging by its last part only: for a rejection, which may
     * come before the token was split.
     */
    TokenSource sourceOf() {
      boolean stripped = CompactJws.looksStripped(token);
      if (fromServerless) {
        return stripped ? TokenSource.STRIPPED_SERVERLESS : TokenSource.SERVERLESS;
      }
      return stripped ? TokenSource.STRIPPED_AUTHORIZATION : TokenSource.AUTHORIZATION;
    }

    /**
     * The token in {@code Authorization} beside a judged {@code X-Serverless-Authorization}: the
     * verifiable copy of a stripped token. {@code null} when that header is absent, empty, or uses
     * another scheme (an application may use {@code Authorization} for its own credentials): then
     * there is no copy. A {@code Bearer} value is held to the same rules as the judged header's.
     *
     * @throws CallerRejectedException {@link Reason#MALFORMED_HEADER} for two values or a bad
     *     {@code Bearer} value
     */
    String authorizationCopy() throws CallerRejectedException {
      if (!fromServerless || authorization == null || authorization.isEmpty()) {
        return null;
      }
      if (authorization.size() != 1) {
        throw new CallerRejectedException(
            Reason.MALFORMED_HEADER,
            "expected one Authorization value beside X-Serverless-Authorization, got "
                + authorization.size());
      }
      String value = authorization.get(0);
      if (value == null || !isBearer(value)) {
        return null;
      }
      return bearer(value);
    }
  }

  /**
   * Reads the credentials headers of a request.
   *
   * @param headers header names to values; names are matched case-insensitively whatever the map
   */
  static Credentials read(Map<String, ? extends List<String>> headers)
      throws CallerRejectedException {
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
    return new Credentials(bearer(judged.get(0)), serverless != null, authorization);
  }

  /**
   * The values seen so far under one name, plus {@code values}. The first list found is kept as it
   * is, without a copy (a request map's own list is not changed by anyone here); a copy is made
   * only when the name comes twice, spelled in two cases.
   */
  private static List<String> append(List<String> sofar, List<String> values) {
    List<String> own = values == null ? List.of() : values;
    if (sofar == null) {
      return own;
    }
    List<String> all = new ArrayList<>(sofar.size() + own.size());
    all.addAll(sofar);
    all.addAll(own);
    return all;
  }

  /** Whether a header value's scheme, after leading whitespace, is {@code Bearer}. */
  private static boolean isBearer(String value) {
    int start = 0;
    while (start < value.length() && Character.isWhitespace(value.charAt(start))) {
      start++;
    }
    int end = start + BEARER.length();
    return value.regionMatches(true, start, BEARER, 0, BEARER.length())
        && (end == value.length() || Character.isWhitespace(value.charAt(end)));
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
