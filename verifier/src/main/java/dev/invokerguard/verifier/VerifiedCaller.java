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
  private final TokenSource tokenSource;
  // This caller under each token source, shared by all of them and filled on first use (slot
  // TokenSource.values().length: no source). Read and written without a lock: every field of a
  // VerifiedCaller is final, so a thread sees null or a whole caller, and a lost write costs one
  // rebuild. It lets a verified-token cache hit hand out the same instance per source without
  // allocating, as the decision log's per-caller text relies on.
  private final VerifiedCaller[] bySource;

  VerifiedCaller(
      String subject,
      String email,
      String issuer,
      String audience,
      Instant issuedAt,
      Instant expiresAt,
      SignatureCheck signatureCheck,
      TokenSource tokenSource) {
    this.subject = Objects.requireNonNull(subject);
    this.email = email;
    this.issuer = Objects.requireNonNull(issuer);
    this.audience = Objects.requireNonNull(audience);
    this.issuedAt = Objects.requireNonNull(issuedAt);
    this.expiresAt = Objects.requireNonNull(expiresAt);
    this.signatureCheck = Objects.requireNonNull(signatureCheck);
    this.tokenSource = tokenSource;
    this.bySource = new VerifiedCaller[SOURCES.length + 1];
    bySource[slot(tokenSource)] = this;
  }

  /** {@code base} under another source, sharing its siblings. */
  private VerifiedCaller(VerifiedCaller base, TokenSource tokenSource) {
    this.subject = base.subject;
    this.email = base.email;
    this.issuer = base.issuer;
    this.audience = base.audience;
    this.issuedAt = base.issuedAt;
    this.expiresAt = base.expiresAt;
    this.signatureCheck = base.signatureCheck;
    this.tokenSource = tokenSource;
    this.bySource = base.bySource;
  }

  private static final TokenSource[] SOURCES = TokenSource.values();

  private static int slot(TokenSource source) {
    return source == null ? SOURCES.length : source.ordinal();
  }

  /**
   * This caller as verified from {@code source} ({@code null}: not from request headers): the same
   * instance for the same source every time.
   */
  VerifiedCaller withSource(TokenSource source) {
    if (source == tokenSource) {
      return this;
    }
    int slot = slot(source);
    VerifiedCaller caller = bySource[slot];
    if (caller == null) {
      caller = new VerifiedCaller(this, source);
      bySource[slot] = caller;
    }
    return caller;
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

  /**
   * Which header the verified token came from and what the platform did to the credentials headers
   * (docs/FUNCTION.md, "Which header"); empty when the token was given to {@link
   * CallerVerifier#verifyToken} rather than in request headers.
   */
  public Optional<TokenSource> tokenSource() {
    return Optional.ofNullable(tokenSource);
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
        + ", tokenSource="
        + tokenSource
        + "}";
  }
}
