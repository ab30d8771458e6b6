package dev.invokerguard.verifier;

/**
 * A change of the state of the signer's key set, as {@link KeyHealthEvent#health()} reports it.
 * Each is reported once when it happens, never per request: a run of failed fetches gives one
 * {@link #FETCH_FAILED}, and the {@link #RECOVERED} that ends it counts them.
 */
public enum KeyHealth {
  /** The first key set was loaded, with no failure before it. */
  LOADED,
  /**
   * A fetch failed while the key state was healthy (the first failure of a run); the set in use
   * still serves until it is {@link #STALE_IN_USE} and then {@link #UNUSABLE}.
   */
  FETCH_FAILED,
  /**
   * Fetches keep failing and the set in use is past its expiry ({@code Cache-Control: max-age}); it
   * is still used, up to {@link VerifierSettings#MAX_KEY_STALENESS} past that expiry.
   */
  STALE_IN_USE,
  /**
   * No usable key set: none was ever loaded (the first fetch failed), or the last one is older than
   * the staleness bound. Requests are rejected with {@link Reason#KEYS_UNAVAILABLE} (HTTP 503).
   */
  UNUSABLE,
  /**
   * A fetch succeeded after {@link #FETCH_FAILED}, {@link #STALE_IN_USE} or {@link #UNUSABLE}
   * (including a first load after failed ones); the event carries the failed fetches and the
   * outage's length.
   */
  RECOVERED;

  /**
   * Whether this state is a problem an operator should look at ({@code FETCH_FAILED} and worse).
   */
  public boolean isProblem() {
    return this == FETCH_FAILED || this == STALE_IN_USE || this == UNUSABLE;
  }
}
