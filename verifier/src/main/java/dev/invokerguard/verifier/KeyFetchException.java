package dev.invokerguard.verifier;

import java.util.Objects;

/**
 * A fetch of the key set that did not give a usable key set: a status other than 200, a body over
 * the size cap or past the deadline, or a body that is not a valid JWKS with at least one usable
 * key. The message is a short, fixed description written by this package (never the body, never key
 * material), so that it can go into a log line as is; the {@link #outcome()} classifies it for
 * counters and key health events.
 */
final class KeyFetchException extends Exception {
  private static final long serialVersionUID = 1L;

  private final KeyFetchOutcome outcome;

  KeyFetchException(KeyFetchOutcome outcome, String message) {
    super(message);
    this.outcome = checked(outcome);
  }

  KeyFetchException(KeyFetchOutcome outcome, String message, Throwable cause) {
    super(message, cause);
    this.outcome = checked(outcome);
  }

  private static KeyFetchOutcome checked(KeyFetchOutcome outcome) {
    if (Objects.requireNonNull(outcome, "outcome") == KeyFetchOutcome.SUCCESS) {
      throw new IllegalArgumentException("a failed fetch cannot have the outcome SUCCESS");
    }
    return outcome;
  }

  /** What kind of failure this was; never {@link KeyFetchOutcome#SUCCESS}. */
  KeyFetchOutcome outcome() {
    return outcome;
  }
}
