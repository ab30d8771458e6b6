package dev.invokerguard.verifier;

/**
 * A fetch of the key set that did not give a usable key set: a status other than 200, a body over
 * the size cap or past the deadline, or a body that is not a valid JWKS with at least one usable
 * key. The message is a short, fixed description written by this package (never the body, never key
 * material), so that it can go into a log line as is.
 */
final class KeyFetchException extends Exception {
  private static final long serialVersionUID = 1L;

  KeyFetchException(String message) {
    super(message);
  }

  KeyFetchException(String message, Throwable cause) {
    super(message, cause);
  }
}
