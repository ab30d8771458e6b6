package dev.invokerguard.verifier;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Set;

/**
 * The claim rules of a verifier (RFC 7519 section 4.1), apart from keys and I/O, as Tink keeps its
 * {@code JwtValidator} apart from verification: {@code iss} one of the issuers, {@code aud} naming
 * an expected audience exactly, {@code exp} in the future and {@code iat} not in the future with a
 * clock skew, {@code nbf} honoured, {@code sub} present. Immutable; {@link CallerVerifier} runs it
 * on every request, a verified-token cache hit included.
 */
final class ClaimRules {
  private final Set<String> issuers;
  private final Set<String> audiences;
  private final long skewSeconds;

  /** Takes values its builder already checked. */
  ClaimRules(Set<String> issuers, Set<String> audiences, Duration clockSkew) {
    this.issuers = Set.copyOf(issuers);
    this.audiences = Set.copyOf(audiences);
    this.skewSeconds = Objects.requireNonNull(clockSkew, "clockSkew").getSeconds();
  }

  /** The clock skew in seconds: a token is usable until {@code exp} plus this. */
  long skewSeconds() {
    return skewSeconds;
  }

  /**
   * Checks the claims at {@code now}, in the order above; the first rule broken decides the reason.
   *
   * @return the expected audience that the token's {@code aud} names (the first, in its order)
   * @throws CallerRejectedException with the reason of the first rule broken
   */
  String validate(JoseJson.Claims claims, Instant now) throws CallerRejectedException {
    if (claims.iss() == null) {
      throw reject(Reason.INVALID_CLAIM, "the token has no iss");
    }
    if (!issuers.contains(claims.iss())) {
      throw reject(
          Reason.WRONG_ISSUER, "iss " + UntrustedText.quoted(claims.iss()) + " is not expected");
    }
    if (claims.aud() == null || claims.aud().isEmpty()) {
      throw reject(Reason.INVALID_CLAIM, "the token has no aud");
    }
    String audience = null;
    for (String candidate : claims.aud()) {
      if (audiences.contains(candidate)) {
        audience = candidate;
        break;
      }
    }
    if (audience == null) {
      throw reject(
          Reason.WRONG_AUDIENCE,
          "aud " + UntrustedText.quoted(claims.aud().toString()) + " is not expected");
    }
    if (claims.exp() == null) {
      throw reject(Reason.INVALID_CLAIM, "the token has no exp");
    }
    if (claims.iat() == null) {
      throw reject(Reason.INVALID_CLAIM, "the token has no iat");
    }
    long nowSeconds = now.getEpochSecond();
    if (nowSeconds >= claims.exp() + skewSeconds) {
      throw reject(
          Reason.EXPIRED,
          "the token expired at " + Instant.ofEpochSecond(claims.exp()) + ", now is " + now);
    }
    if (claims.nbf() != null && claims.nbf() > nowSeconds + skewSeconds) {
      throw reject(
          Reason.NOT_YET_VALID,
          "the token is not valid before "
              + Instant.ofEpochSecond(claims.nbf())
              + ", now is "
              + now);
    }
    if (claims.iat() > nowSeconds + skewSeconds) {
      throw reject(
          Reason.ISSUED_IN_FUTURE,
          "the token was issued at " + Instant.ofEpochSecond(claims.iat()) + ", now is " + now);
    }
    if (claims.sub() == null || claims.sub().isEmpty()) {
      throw reject(Reason.INVALID_CLAIM, "the token has no sub");
    }
    return audience;
  }

  private static CallerRejectedException reject(Reason reason, String message) {
    return new CallerRejectedException(reason, message);
  }
}
