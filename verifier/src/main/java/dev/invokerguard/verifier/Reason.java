package dev.invokerguard.verifier;

/**
 * Why a request was rejected. Every rejection carries exactly one reason; HTTP status codes and log
 * lines are derived from the reason (through its {@link Category}), never from message text.
 */
public enum Reason {
  /** Neither {@code X-Serverless-Authorization} nor {@code Authorization} was sent. */
  MISSING_CREDENTIALS(Category.NO_CREDENTIALS),
  /**
   * The credentials header uses a scheme other than {@code Bearer} (RFC 6750 section 3.1: the
   * client did not use a supported method, so no error code is sent).
   */
  UNSUPPORTED_SCHEME(Category.NO_CREDENTIALS),
  /**
   * The header was sent more than once, was empty, over the size cap, or not {@code Bearer
   * <token>}.
   */
  MALFORMED_HEADER(Category.INVALID_TOKEN),
  /**
   * Not a compact JWS of three strict base64url parts holding JSON objects (RFC 7515 section 7.1).
   */
  MALFORMED_TOKEN(Category.INVALID_TOKEN),
  /** {@code alg} is not {@code RS256} (RFC 8725 section 3.1: never let the token choose). */
  UNSUPPORTED_ALGORITHM(Category.INVALID_TOKEN),
  /** {@code typ} is present and is not {@code JWT} (RFC 7519 section 5.1). */
  UNSUPPORTED_TYPE(Category.INVALID_TOKEN),
  /**
   * The header carries {@code crit}, whose extensions this verifier does not understand (RFC 7515
   * 4.1.11).
   */
  CRITICAL_HEADER(Category.INVALID_TOKEN),
  /** The header has no {@code kid}, so no key can be chosen without trying every key. */
  MISSING_KEY_ID(Category.INVALID_TOKEN),
  /**
   * No key with the token's {@code kid} is in a key set fetched successfully (after at most one
   * rate-limited refetch). When no fresh set could be fetched, the answer is {@link
   * #KEYS_UNAVAILABLE} instead: the token was not judged.
   */
  UNKNOWN_KEY_ID(Category.INVALID_TOKEN),
  /** The RS256 signature does not verify with the key named by {@code kid}. */
  BAD_SIGNATURE(Category.INVALID_TOKEN),
  /**
   * Google replaced the signature with {@code SIGNATURE_REMOVED_BY_GOOGLE}, no verifiable copy came
   * in {@code Authorization} (or the copy was stripped too), and the verifier was not told to trust
   * the platform's own check.
   */
  SIGNATURE_REMOVED(Category.INVALID_TOKEN),
  /**
   * {@code X-Serverless-Authorization} came stripped ({@code SIGNATURE_REMOVED_BY_GOOGLE}) and the
   * copy in {@code Authorization}, which verified, names another caller (another {@code sub}, or
   * another {@code email} where both carry one): the platform judged one caller and the proof is
   * for another.
   */
  CALLER_MISMATCH(Category.INVALID_TOKEN),
  /**
   * A required claim ({@code iss}, {@code aud}, {@code sub}, {@code exp}, {@code iat}) is absent or
   * of the wrong type.
   */
  INVALID_CLAIM(Category.INVALID_TOKEN),
  /** {@code iss} is not one of the expected issuers (RFC 7519 section 4.1.1). */
  WRONG_ISSUER(Category.INVALID_TOKEN),
  /** {@code aud} names none of the expected audiences exactly (RFC 7519 section 4.1.3). */
  WRONG_AUDIENCE(Category.INVALID_TOKEN),
  /** {@code exp} is in the past, beyond the allowed clock skew (RFC 7519 section 4.1.4). */
  EXPIRED(Category.INVALID_TOKEN),
  /** {@code nbf} is in the future, beyond the allowed clock skew (RFC 7519 section 4.1.5). */
  NOT_YET_VALID(Category.INVALID_TOKEN),
  /** {@code iat} is in the future, beyond the allowed clock skew (RFC 7519 section 4.1.6). */
  ISSUED_IN_FUTURE(Category.INVALID_TOKEN),
  /**
   * The token is valid, but neither its {@code sub} nor its verified {@code email} is allowlisted.
   */
  CALLER_NOT_ALLOWED(Category.FORBIDDEN),
  /** The token's {@code email} is allowlisted but {@code email_verified} is not true. */
  EMAIL_NOT_VERIFIED(Category.FORBIDDEN),
  /**
   * No signing key set could be loaded (or the last good one is older than the staleness bound), or
   * the token's {@code kid} is not in the cached set and no fresh set could be fetched.
   */
  KEYS_UNAVAILABLE(Category.UNAVAILABLE);

  /** How a reason is answered; one category maps to one HTTP status. */
  public enum Category {
    /**
     * No usable credentials: HTTP 401 with a bare {@code WWW-Authenticate: Bearer} (RFC 6750 3.1).
     */
    NO_CREDENTIALS,
    /**
     * A token was sent and is not valid: HTTP 401, {@code error="invalid_token"} (RFC 6750 3.1).
     */
    INVALID_TOKEN,
    /** A valid token of a caller that may not call: HTTP 403. */
    FORBIDDEN,
    /**
     * The verifier cannot decide for lack of keys: HTTP 503, never a 401 that blames the caller.
     */
    UNAVAILABLE
  }

  private final Category category;

  Reason(Category category) {
    this.category = category;
  }

  /** The category that decides how this rejection is answered. */
  public Category category() {
    return category;
  }
}
