package dev.invokerguard.verifier;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings of the key cache, validated by {@link CallerVerifier.Builder#build()}.
 *
 * @param jwksUri where the JWKS (RFC 7517) is fetched
 * @param connector the HTTP seam: opens the connection of each fetch
 * @param clock the time source for fetch timestamps
 * @param fetchTimeout hard deadline of one whole fetch (also its connect and read timeout), and
 *     the longest a request waits for a fetch under way
 * @param maxBodyBytes bodies larger than this are a failed fetch
 * @param maxStaleness how long past its expiry the last good key set keeps being used while
 *     fetches fail
 * @param minRefetchInterval at most one fetch starts per interval, whatever triggers it
 * @param defaultTtl freshness when the response has no usable {@code Cache-Control: max-age}
 * @param refreshAhead how long before expiry a background refresh starts (capped at half the TTL)
 */
record KeyCacheConfig(
    URI jwksUri,
    KeyEndpointConnector connector,
    Clock clock,
    Duration fetchTimeout,
    int maxBodyBytes,
    Duration maxStaleness,
    Duration minRefetchInterval,
    Duration defaultTtl,
    Duration refreshAhead) {
  KeyCacheConfig {
    Objects.requireNonNull(jwksUri, "jwksUri");
    Objects.requireNonNull(connector, "connector");
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(fetchTimeout, "fetchTimeout");
    Objects.requireNonNull(maxStaleness, "maxStaleness");
    Objects.requireNonNull(minRefetchInterval, "minRefetchInterval");
    Objects.requireNonNull(defaultTtl, "defaultTtl");
    Objects.requireNonNull(refreshAhead, "refreshAhead");
  }
}
