package dev.invokerguard.verifier;

import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A snapshot of a {@link CallerVerifier}'s counters, from {@link CallerVerifier#stats()}, to export
 * to whatever metrics system a team uses. Counters are cumulative since the verifier was built and
 * never reset (export them as monotonic counters; a rate is the difference of two snapshots). Each
 * counter is read once, without a lock, so a snapshot taken under load may count a request in one
 * counter and not yet in another; every counter is exact once the requests it counts have returned.
 *
 * <p>Every verification ends in exactly one of {@link #allowed()}, one reason of {@link
 * #rejected()} or {@link #verificationErrors()}; and, if it got as far as the verified-token cache,
 * in exactly one of {@link #tokenCacheHits()} and {@link #tokenCacheMisses()} (a request rejected
 * by the header rules before the lookup is in neither).
 *
 * @param takenAt when the snapshot was taken, by the verifier's clock
 * @param allowed verifications that returned a caller
 * @param rejected rejections by reason; every {@link Reason} is a key (0 when none), in declaration
 *     order
 * @param verificationErrors verifications that ended in an unexpected exception (a bug; the guard
 *     answers them 503, fail closed)
 * @param tokenCacheHits verifications answered from the verified-token cache (no signature check)
 * @param tokenCacheMisses verifications that checked the signature (or were rejected on the way to
 *     it) after the token was not in the cache; every one when the cache is off
 * @param keyFetches key set fetches by outcome; every {@link KeyFetchOutcome} is a key
 * @param keyHealth the last {@link KeyHealthEvent}'s state; empty before the first
 * @param keyCount the number of keys in the set in use; 0 when none was loaded
 * @param keySetAge the age of the set in use (since its fetch); empty when none was loaded
 */
public record VerifierStats(
    Instant takenAt,
    long allowed,
    Map<Reason, Long> rejected,
    long verificationErrors,
    long tokenCacheHits,
    long tokenCacheMisses,
    Map<KeyFetchOutcome, Long> keyFetches,
    Optional<KeyHealth> keyHealth,
    int keyCount,
    Optional<Duration> keySetAge) {
  /** Copies the maps (into unmodifiable maps in enum order) and checks for nulls. */
  public VerifierStats {
    Objects.requireNonNull(takenAt, "takenAt");
    rejected = copy(Reason.class, rejected);
    keyFetches = copy(KeyFetchOutcome.class, keyFetches);
    Objects.requireNonNull(keyHealth, "keyHealth");
    Objects.requireNonNull(keySetAge, "keySetAge");
  }

  private static <K extends Enum<K>> Map<K, Long> copy(Class<K> type, Map<K, Long> counts) {
    EnumMap<K, Long> copy = new EnumMap<>(type);
    copy.putAll(counts); // throws on a null key or map
    for (Long count : copy.values()) {
      Objects.requireNonNull(count, "count");
    }
    return Collections.unmodifiableMap(copy);
  }

  /** All rejections, every reason together. */
  public long rejectedTotal() {
    long total = 0;
    for (long count : rejected.values()) {
      total += count;
    }
    return total;
  }

  /** Every verification counted: allowed, rejected and failed. */
  public long decisions() {
    return allowed + rejectedTotal() + verificationErrors;
  }
}
