package dev.invokerguard.verifier;

import java.security.GeneralSecurityException;
import java.util.Objects;

/**
 * A request that was not let through, with the {@link Reason} why. The message says what was
 * expected and what came, but never contains a token, a signature or key material, so it is safe
 * to log. Decisions must be taken on {@link #reason()}, never on the message.
 *
 * <p>No stack trace is captured: rejections are an expected, possibly attacker-driven outcome, and
 * filling stack traces for a flood of bad tokens would cost more than verifying them.
 */
public final class CallerRejectedException extends GeneralSecurityException {
  private static final long serialVersionUID = 1L;

  private final Reason reason;

  /**
   * Creates a rejection.
   *
   * @param reason why the request was rejected
   * @param message what was expected and what came; must hold no token or key material
   */
  public CallerRejectedException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** Why the request was rejected. */
  public Reason reason() {
    return reason;
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
