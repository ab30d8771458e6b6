package dev.invokerguard.verifier;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.http.HttpTimeoutException;

/**
 * How one fetch of the signer's key set (the JWKS) ended. Counted per outcome in {@link
 * VerifierStats#keyFetches()} and named in failed-fetch {@link KeyHealthEvent}s.
 */
public enum KeyFetchOutcome {
  /** HTTP 200 with a valid key set holding at least one usable key; the set is now in use. */
  SUCCESS,
  /** The endpoint answered with a status other than 200 (redirects are not followed). */
  HTTP_STATUS,
  /**
   * The body is larger than {@link VerifierSettings#MAX_KEY_SET_BYTES} (by its {@code
   * Content-Length} or while reading).
   */
  BODY_TOO_LARGE,
  /**
   * The body is not a valid JWKS (RFC 7517 section 5) holding at least one usable RS256 key, or
   * holds a key that is refused (see {@code JwksParser}); the whole set is refused.
   */
  INVALID_BODY,
  /**
   * Not done by the fetch's deadline ({@link VerifierSettings#KEY_FETCH_TIMEOUT}): given up and
   * disconnected, or a connect or read timeout.
   */
  TIMEOUT,
  /** A network or I/O error: connection refused or reset, DNS failure, TLS failure, ... */
  IO_ERROR,
  /**
   * Anything else, such as a {@link KeyEndpointConnector} that threw an unchecked exception: still
   * a failed fetch, never a crash.
   */
  UNEXPECTED_ERROR;

  /** The outcome of a fetch that failed with {@code failure} (already unwrapped). */
  static KeyFetchOutcome ofFailure(Throwable failure) {
    if (failure instanceof KeyFetchException e) {
      return e.outcome();
    }
    if (failure instanceof SocketTimeoutException || failure instanceof HttpTimeoutException) {
      return TIMEOUT;
    }
    if (failure instanceof IOException) {
      return IO_ERROR;
    }
    return UNEXPECTED_ERROR;
  }
}
