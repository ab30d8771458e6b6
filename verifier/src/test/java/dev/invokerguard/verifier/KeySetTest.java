package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;

import dev.invokerguard.verifier.KeyFetcher.FetchedKeys;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link KeySet}: the freshness, refresh-ahead and staleness instants, and their boundaries. */
final class KeySetTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final Duration NANO = Duration.ofNanos(1);

  private static Map<String, RSAPublicKey> keys;

  @BeforeAll
  static void generateKey() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    keys = Map.of("a", (RSAPublicKey) generator.generateKeyPair().getPublic());
  }

  @Test
  void of_refreshAheadUnderHalfTheLifetime_refreshAtIsExpiryMinusIt() {
    KeySet set =
        KeySet.of(keys, T0, Duration.ofHours(1), Duration.ofMinutes(5), Duration.ofHours(24));

    assertThat(set.expiresAt()).isEqualTo(T0.plusSeconds(3600));
    assertThat(set.refreshAt()).isEqualTo(T0.plusSeconds(3300));
    assertThat(set.usableUntil()).isEqualTo(T0.plusSeconds(3600).plus(Duration.ofHours(24)));
  }

  @Test
  void of_refreshAheadOverHalfTheLifetime_cappedAtHalf() {
    KeySet set = KeySet.of(keys, T0, Duration.ofSeconds(60), Duration.ofMinutes(5), Duration.ZERO);

    assertThat(set.refreshAt()).isEqualTo(T0.plusSeconds(30));
    assertThat(set.usableUntil()).isEqualTo(set.expiresAt());
  }

  @Test
  void instants_areBoundariesFromWhichTheStateHolds() {
    KeySet set =
        KeySet.of(
            keys, T0, Duration.ofSeconds(100), Duration.ofSeconds(10), Duration.ofSeconds(50));
    Instant refreshAt = T0.plusSeconds(90);
    Instant expiresAt = T0.plusSeconds(100);
    Instant usableUntil = T0.plusSeconds(150);

    assertThat(set.refreshDueAt(refreshAt.minus(NANO))).isFalse();
    assertThat(set.refreshDueAt(refreshAt)).isTrue();
    assertThat(set.expiredAt(expiresAt.minus(NANO))).isFalse();
    assertThat(set.expiredAt(expiresAt)).isTrue();
    assertThat(set.usableAt(usableUntil.minus(NANO))).isTrue();
    assertThat(set.usableAt(usableUntil)).isFalse();
  }

  @Test
  void usableForAndAge_countFromNow_zeroOnceUnusable() {
    KeySet set =
        KeySet.of(keys, T0, Duration.ofSeconds(100), Duration.ZERO, Duration.ofSeconds(50));

    assertThat(set.usableFor(T0.plusSeconds(120))).isEqualTo(Duration.ofSeconds(30));
    assertThat(set.usableFor(T0.plusSeconds(150))).isEqualTo(Duration.ZERO);
    assertThat(set.usableFor(T0.plusSeconds(900))).isEqualTo(Duration.ZERO);
    assertThat(set.ageAt(T0.plusSeconds(120))).isEqualTo(Duration.ofSeconds(120));
  }

  @Test
  void ofFetched_noMaxAge_defaultLifetimeAndDefaultRefreshAhead() {
    KeySet set = KeySet.of(fetched(List.of()), KeyCacheConfig.builder().build());

    assertThat(set.ttl()).isEqualTo(KeySet.DEFAULT_TTL);
    // 5 minutes ahead of a 5-minute lifetime is capped at half of it.
    assertThat(set.refreshAt()).isEqualTo(T0.plus(KeySet.DEFAULT_TTL.dividedBy(2)));
    assertThat(set.usableUntil())
        .isEqualTo(
            T0.plus(KeySet.DEFAULT_TTL).plus(VerifierSettings.MAX_KEY_STALENESS.defaultValue()));
  }

  @Test
  void ofFetched_lifetimeClampedToRefetchIntervalAndMaxTtl() {
    KeyCacheConfig config =
        KeyCacheConfig.builder().keyRefetchInterval(Duration.ofSeconds(30)).build();

    assertThat(KeySet.of(fetched(List.of("max-age=5")), config).ttl())
        .isEqualTo(Duration.ofSeconds(30));
    assertThat(KeySet.of(fetched(List.of("max-age=999999999")), config).ttl())
        .isEqualTo(KeySet.MAX_TTL);
  }

  @Test
  void ofFetched_maxAgeMinusAge_fromTheRequestTime() {
    KeySet set =
        KeySet.of(
            new FetchedKeys(keys, T0, List.of("public, max-age=22187"), List.of("187")),
            KeyCacheConfig.builder().build());

    assertThat(set.expiresAt()).isEqualTo(T0.plusSeconds(22000));
    assertThat(set.refreshAt())
        .isEqualTo(T0.plusSeconds(22000).minus(KeySet.DEFAULT_REFRESH_AHEAD));
  }

  private static FetchedKeys fetched(List<String> cacheControl) {
    return new FetchedKeys(keys, T0, cacheControl, List.of());
  }
}
