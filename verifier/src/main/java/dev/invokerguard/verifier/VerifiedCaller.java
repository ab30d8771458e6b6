package dev.invokerguard.verifier;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A caller whose ID token passed every check and who is on the allowlist. The constructor is
 * package-private: the only way to obtain one is {@link CallerVerifier#verify}, so holding a {@code
 * VerifiedCaller} is proof that the checks ran.
 */
public final class VerifiedCaller {
  /** Who checked the token's signature. */
  public enum SignatureCheck {
    /** This verifier checked the RS256 signature against the signer's published key. */
    VERIFIED,
    /**
     * The platform removed the signature ({@code SIGNATURE_REMOVED_BY_GOOGLE}) after checking it
     * itself, and the verifier was built to trust that; every claim and the allowlist were still
     * checked here.
     */
    TRUSTED_PLATFORM
  }

  private final String subject;
  private final String email;
  private final String issuer;
  private final String audience;
  private final Instant issuedAt;
  private final Instant expiresAt;
  private final SignatureCheck signatureCheck;

  VerifiedCaller(
      String subject,
      String email,
      String issuer,
      String audience,
      Instant issuedAt,
      Instant expiresAt,
      SignatureCheck signatureCheck) {
    this.subject = Objects.requireNonNull(subject);
    this.email = email;
    this.issuer = Objects.requireNonNull(issuer);
    this.audience = Objects.requireNonNull(audience);
    this.issuedAt = Objects.requireNonNull(issuedAt);
    this.expiresAt = Objects.requireNonNull(expiresAt);
    this.signatureCheck = Objects.requireNonNull(signatureCheck);
  }

  /** The {@code sub} claim: the service account's numeric unique ID. */
  public String subject() {
    return subject;
  }

  /**
   * The {@code email} claim, present only when the token carried it and {@code email_verified} was
   * true. Metadata-server tokens carry it only when requested with {@code format=full}.
   */
  public Optional<String> email() {
    return Optional.ofNullable(email);
  }

  /**
   * The verified email when there is one, else the numeric unique ID: a name for logs and answers.
   */
  public String principal() {
    return email != null ? email : subject;
  }

  /** The {@code iss} claim, one of the configured issuers. */
  public String issuer() {
    return issuer;
  }

  /** The configured audience that the token's {@code aud} named. */
  public String audience() {
    return audience;
  }

  /** The {@code iat} claim. */
  public Instant issuedAt() {
    return issuedAt;
  }

  /** The {@code exp} claim. */
  public Instant expiresAt() {
    return expiresAt;
  }

  /** Whether this verifier checked the signature, or trusted the platform's check. */
  public SignatureCheck signatureCheck() {
    return signatureCheck;
  }

  @Override
  public String toString() {
    return "VerifiedCaller{principal="
        + principal()
        + ", subject="
        + subject
        + ", audience="
        + audience
        + ", expiresAt="
        + expiresAt
        + ", signatureCheck="
        + signatureCheck
        + "}";
  }
}
