package dev.invokerguard.verifier;

import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * One fetched key set and its time line: every instant the key cache decides by, computed here once
 * per fetch, with the defaults they come from. Immutable and swapped whole, so that the request
 * path only compares instants.
 *
 * <pre>
 * fetchedAt ...... refreshAt ...... expiresAt ................ usableUntil
 *   fresh: used      refresh ahead     stale: still used while      not used
 *                    in the background fetches fail (outage)
 * </pre>
 *
 * <ul>
 *   <li>{@code ttl}: {@code max-age} minus {@code Age} ({@link CacheFreshness}, RFC 9111 section
 *       4.2.3), or {@link #DEFAULT_TTL} without one, clamped to {@code [keyRefetchInterval,
 *       MAX_TTL]}.
 *   <li>{@code expiresAt = fetchedAt + ttl}; {@code fetchedAt} is when the request was sent, so the
 *       response's time in transit counts against its lifetime.
 *   <li>{@code refreshAt = expiresAt - min(refreshAhead, ttl / 2)} (refresh-ahead).
 *   <li>{@code usableUntil = expiresAt + maxKeyStaleness} (outage tolerance).
 * </ul>
 *
 * @param keys usable keys by {@code kid}, never empty
 * @param fetchedAt when the request was sent
 * @param ttl the freshness lifetime
 * @param expiresAt {@code fetchedAt + ttl}
 * @param refreshAt when a background refresh starts
 * @param usableUntil {@code expiresAt + maxKeyStaleness}: from then on the set is not used
 */
record KeySet(
    Map<String, RSAPublicKey> keys,
    Instant fetchedAt,
    Duration ttl,
    Instant expiresAt,
    Instant refreshAt,
    Instant usableUntil) {
  /** Upper bound of a key set's lifetime, whatever {@code max-age} says. */
  static final Duration MAX_TTL = Duration.ofHours(24);

  /** The lifetime of a key set whose response states none. */
  static final Duration DEFAULT_TTL = Duration.ofMinutes(5);

  /** How long before its expiry a key set is refreshed in the background (at most ttl / 2). */
  static final Duration DEFAULT_REFRESH_AHEAD = Duration.ofMinutes(5);

  /** The key set a fetch gave, fresh for as long as its response says. */
  static KeySet of(KeyFetcher.FetchedKeys fetched, KeyCacheConfig config) {
    Duration ttl =
        CacheFreshness.ttl(
            fetched.cacheControl(),
            fetched.age(),
            config.defaultTtl(),
            config.keyRefetchInterval(),
            MAX_TTL);
    return of(
        fetched.keys(), fetched.fetchedAt(), ttl, config.refreshAhead(), config.maxKeyStaleness());
  }

  static KeySet of(
      Map<String, RSAPublicKey> keys,
      Instant fetchedAt,
      Duration ttl,
      Duration refreshAhead,
      Duration maxStaleness) {
    Instant expiresAt = fetchedAt.plus(ttl);
    // Refreshing more than half a lifetime early would fetch more often than the signer asks.
    Duration half = ttl.dividedBy(2);
    Duration ahead = refreshAhead.compareTo(half) < 0 ? refreshAhead : half;
    return new KeySet(
        Map.copyOf(keys),
        fetchedAt,
        ttl,
        expiresAt,
        expiresAt.minus(ahead),
        expiresAt.plus(maxStaleness));
  }

  /** Whether a background refresh is due: from {@code refreshAt} on. */
  boolean refreshDueAt(Instant now) {
    return !now.isBefore(refreshAt);
  }

  /** Whether the set is past its freshness lifetime (still used while {@link #usableAt}). */
  boolean expiredAt(Instant now) {
    return !now.isBefore(expiresAt);
  }

  /** Whether the set may still be used: before {@code usableUntil}. */
  boolean usableAt(Instant now) {
    return now.isBefore(usableUntil);
  }

  /** How long the set stays usable from {@code now}; zero once it is not. */
  Duration usableFor(Instant now) {
    return usableAt(now) ? Duration.between(now, usableUntil) : Duration.ZERO;
  }

  /** The set's age at {@code now}, since its request was sent. */
  Duration ageAt(Instant now) {
    return Duration.between(fetchedAt, now);
  }
}
