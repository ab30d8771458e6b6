package dev.invokerguard.verifier;

import java.security.GeneralSecurityException;
import java.util.Objects;
import java.util.Optional;

/**
 * A request that was not let through, with the {@link Reason} why. The message says what was
 * expected and what came, but never contains a token, a signature or key material, so it is safe to
 * log. Decisions must be taken on {@link #reason()}, never on the message.
 *
 * <p>A rejection by the allowlist alone ({@link Reason.Category#FORBIDDEN}) also carries the
 * caller's identity ({@link #verifiedSubject()}, {@link #verifiedEmail()}), so that a denial can
 * say who was denied. Only the verifier can attach it, and only after the signature and every claim
 * verified: nothing from a token that did not verify is ever carried.
 *
 * <p>No stack trace is captured: rejections are an expected, possibly attacker-driven outcome, and
 * filling stack traces for a flood of bad tokens would cost more than verifying them.
 */
public final class CallerRejectedException extends GeneralSecurityException {
  private static final long serialVersionUID = 1L;

  private final Reason reason;
  private final String verifiedSubject;
  private final String verifiedEmail;
  private TokenSource tokenSource;

  /**
   * Creates a rejection.
   *
   * @param reason why the request was rejected
   * @param message what was expected and what came; must hold no token or key material
   */
  public CallerRejectedException(Reason reason, String message) {
    this(reason, message, null, null);
  }

  /**
   * A rejection of a caller whose token verified (signature and claims): package-private, so that
   * only the verifier can say an identity was verified.
   *
   * @param verifiedSubject the verified {@code sub}
   * @param verifiedEmail the {@code email} when {@code email_verified} is true, else {@code null}
   */
  CallerRejectedException(
      Reason reason, String message, String verifiedSubject, String verifiedEmail) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
    this.verifiedSubject = verifiedSubject;
    this.verifiedEmail = verifiedEmail;
  }

  /** Why the request was rejected. */
  public Reason reason() {
    return reason;
  }

  /**
   * The {@code sub} of a caller whose token verified and whom the allowlist refused; empty for
   * every other rejection.
   */
  public Optional<String> verifiedSubject() {
    return Optional.ofNullable(verifiedSubject);
  }

  /**
   * The {@code email} of a caller whose token verified, with {@code email_verified} true, and whom
   * the allowlist refused; empty for every other rejection.
   */
  public Optional<String> verifiedEmail() {
    return Optional.ofNullable(verifiedEmail);
  }

  /**
   * Which header the judged token came from and what the platform did to the credentials headers
   * (see {@link TokenSource}); empty when no token was found, or the token was not given in request
   * headers.
   */
  public Optional<TokenSource> tokenSource() {
    return Optional.ofNullable(tokenSource);
  }

  /** Records where the judged token came from, unless a more precise step already did. */
  CallerRejectedException from(TokenSource source) {
    if (tokenSource == null) {
      tokenSource = source;
    }
    return this;
  }

  @Override
  public synchronized Throwable fillInStackTrace() {
    return this;
  }

  @Override
  public String toString() {
    return "CallerRejectedException[" + reason + "]: " + getMessage();
  }
}
