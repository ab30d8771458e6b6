package dev.invokerguard.verifier;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings of the key cache. Each is checked once, by the {@link Builder} setter that takes it,
 * against its {@link Setting} in {@link CallerVerifier}; the cache trusts what it is given.
 *
 * @param jwksUri where the JWKS (RFC 7517) is fetched: https, or http on loopback
 * @param connector the HTTP seam: opens the connection of each fetch
 * @param clock the time source for fetch timestamps
 * @param keyFetchTimeout hard deadline of one whole fetch (also its connect and read timeout), and
 *     the longest a request waits for a fetch under way
 * @param maxKeySetBytes bodies larger than this are a failed fetch
 * @param maxKeyStaleness how long past its expiry the last good key set keeps being used while
 *     fetches fail
 * @param keyRefetchInterval at most one fetch starts per interval, whatever triggers it
 * @param defaultTtl freshness when the response has no usable {@code Cache-Control: max-age}
 * @param refreshAhead how long before expiry a background refresh starts (capped at half the TTL)
 * @param keyHealthListener receives the key set's state changes
 */
record KeyCacheConfig(
    URI jwksUri,
    KeyEndpointConnector connector,
    Clock clock,
    Duration keyFetchTimeout,
    int maxKeySetBytes,
    Duration maxKeyStaleness,
    Duration keyRefetchInterval,
    Duration defaultTtl,
    Duration refreshAhead,
    KeyHealthListener keyHealthListener) {
  /** A builder with every default of {@link CallerVerifier}: Google's key set, the JDK's HTTP. */
  static Builder builder() {
    return new Builder();
  }

  /** Whether {@code uri} may serve keys: {@code https}, or {@code http} on a loopback address. */
  static boolean isAcceptableJwksUri(URI uri) {
    String host = uri.getHost();
    boolean loopback =
        "http".equals(uri.getScheme())
            && ("127.0.0.1".equals(host) || "localhost".equals(host) || "[::1]".equals(host));
    return "https".equals(uri.getScheme()) || loopback;
  }

  /** Collects and checks the settings; {@link CallerVerifier.Builder} holds one. */
  static final class Builder {
    private URI jwksUri = CallerVerifier.GOOGLE_JWKS_URI;
    private KeyEndpointConnector connector = KeyEndpointConnector.JDK;
    private Clock clock = Clock.systemUTC();
    private Duration keyFetchTimeout = VerifierSettings.KEY_FETCH_TIMEOUT.defaultValue();
    private int maxKeySetBytes = VerifierSettings.MAX_KEY_SET_BYTES.defaultValue();
    private Duration maxKeyStaleness = VerifierSettings.MAX_KEY_STALENESS.defaultValue();
    private Duration keyRefetchInterval = VerifierSettings.KEY_REFETCH_INTERVAL.defaultValue();
    private Duration defaultTtl = KeySet.DEFAULT_TTL;
    private Duration refreshAhead = KeySet.DEFAULT_REFRESH_AHEAD;
    private KeyHealthListener keyHealthListener;

    private Builder() {}

    Builder jwksUri(URI jwksUri) {
      Objects.requireNonNull(jwksUri, "jwksUri");
      if (!isAcceptableJwksUri(jwksUri)) {
        throw new IllegalArgumentException(
            "the JWKS URI must be https (or http on loopback), got " + jwksUri);
      }
      this.jwksUri = jwksUri;
      return this;
    }

    Builder connector(KeyEndpointConnector connector) {
      this.connector = Objects.requireNonNull(connector, "connector");
      return this;
    }

    Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    Builder keyFetchTimeout(Duration timeout) {
      this.keyFetchTimeout = VerifierSettings.KEY_FETCH_TIMEOUT.check(timeout);
      return this;
    }

    Builder maxKeySetBytes(int bytes) {
      this.maxKeySetBytes = VerifierSettings.MAX_KEY_SET_BYTES.check(bytes);
      return this;
    }

    Builder maxKeyStaleness(Duration staleness) {
      this.maxKeyStaleness = VerifierSettings.MAX_KEY_STALENESS.check(staleness);
      return this;
    }

    Builder keyRefetchInterval(Duration interval) {
      this.keyRefetchInterval = VerifierSettings.KEY_REFETCH_INTERVAL.check(interval);
      return this;
    }

    /** For tests of freshness; production uses {@link KeySet#DEFAULT_TTL}. */
    Builder defaultTtl(Duration ttl) {
      if (ttl.isNegative() || ttl.isZero()) {
        throw new IllegalArgumentException("defaultTtl must be positive: " + ttl);
      }
      this.defaultTtl = ttl;
      return this;
    }

    /** For tests of refresh-ahead; production uses {@link KeySet#DEFAULT_REFRESH_AHEAD}. */
    Builder refreshAhead(Duration ahead) {
      if (ahead.isNegative()) {
        throw new IllegalArgumentException("refreshAhead must not be negative: " + ahead);
      }
      this.refreshAhead = ahead;
      return this;
    }

    Builder keyHealthListener(KeyHealthListener listener) {
      this.keyHealthListener = Objects.requireNonNull(listener, "keyHealthListener");
      return this;
    }

    KeyCacheConfig build() {
      return new KeyCacheConfig(
          jwksUri,
          connector,
          clock,
          keyFetchTimeout,
          maxKeySetBytes,
          maxKeyStaleness,
          keyRefetchInterval,
          defaultTtl,
          refreshAhead,
          // The strict default: state changes are never silent.
          keyHealthListener == null ? KeyHealthListener.systemLogger() : keyHealthListener);
    }
  }
}
