package dev.invokerguard.verifier;

import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/**
 * Where the verifier gets the signer's public keys. Package-private: the seam between the token
 * pipeline ({@link CallerVerifier}) and the key cache policy ({@link JwksKeyCache}), and the place
 * where tests substitute a fixed key set.
 */
interface KeySource extends AutoCloseable {
  /**
   * The RSA key named {@code kid}.
   *
   * @param kid the token header's {@code kid}
   * @param now the time read once for this request, so every layer sees the same instant
   * @throws CallerRejectedException {@link Reason#UNKNOWN_KEY_ID} when a key set fetched
   *     successfully has no key with that id (after at most one rate-limited refetch), {@link
   *     Reason#KEYS_UNAVAILABLE} when no usable key set could be loaded, or when the id is not in
   *     the cached set and no fresh set could be fetched
   */
  RSAPublicKey key(String kid, Instant now) throws CallerRejectedException;

  /**
   * Starts loading keys in the background and returns at once; the future completes when a key set
   * is loaded, or exceptionally when that attempt failed. Used at start-up so that the first
   * request does not wait.
   */
  CompletableFuture<Void> prefetch();

  /**
   * The fetch counters and the set in use, for {@link CallerVerifier#stats()}; a source that does
   * not fetch reports none.
   */
  default KeyStatus status(Instant now) {
    return KeyStatus.NONE;
  }

  /**
   * @param fetches fetches by {@link KeyFetchOutcome} ordinal
   * @param health the last key health event's state, or {@code null}
   * @param keyCount keys in the set in use
   * @param keySetAge the age of the set in use, or {@code null} when none
   */
  record KeyStatus(long[] fetches, KeyHealth health, int keyCount, java.time.Duration keySetAge) {
    static final KeyStatus NONE =
        new KeyStatus(new long[KeyFetchOutcome.values().length], null, 0, null);
  }

  /** Stops background work. */
  @Override
  void close();
}
