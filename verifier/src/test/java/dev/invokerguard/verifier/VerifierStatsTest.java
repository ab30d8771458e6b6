package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link CallerVerifier#stats()} and the key health events through a real key endpoint on loopback
 * ({@link TestIssuer}) with a mutable clock: every decision counted once, by reason and by cache
 * lookup; fetches by outcome; each key state change reported once, never per request.
 */
class VerifierStatsTest {
  private static final String AUDIENCE = "https://fn.example/api";
  private static final String CLIENT = "api-client@client-project.iam.gserviceaccount.com";
  private static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";
  private static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");
  private static final Duration DEADLINE = Duration.ofSeconds(20);

  private final MutableClock clock = new MutableClock(NOW);
  // max-age=600: refresh from 300 s (half the lifetime), expiry at 600 s.
  private final TestIssuer issuer = TestIssuer.builder().clock(clock).maxAgeSeconds(600).start();
  private final List<KeyHealthEvent> events = new CopyOnWriteArrayList<>();
  private final List<CallerVerifier> verifiers = new ArrayList<>();

  @AfterEach
  void tearDown() {
    verifiers.forEach(CallerVerifier::close);
    issuer.close();
  }

  private CallerVerifier.Builder builder() {
    return CallerVerifier.builder()
        .expectedAudiences(AUDIENCE)
        .allowlist(ServiceAccountAllowlist.parse(CLIENT))
        .clock(clock)
        .jwksUri(issuer.jwksUri())
        .keyFetchTimeout(Duration.ofSeconds(2))
        .keyRefetchInterval(Duration.ofSeconds(1))
        .maxKeyStaleness(Duration.ofSeconds(600))
        .keyHealthListener(events::add);
  }

  private CallerVerifier start(CallerVerifier.Builder builder) throws Exception {
    CallerVerifier verifier = builder.build();
    verifiers.add(verifier);
    verifier.prefetchKeys().get(30, TimeUnit.SECONDS);
    return verifier;
  }

  private static Map<String, List<String>> bearer(String token) {
    return Map.of("Authorization", List.of("Bearer " + token));
  }

  private static Reason rejection(CallerVerifier verifier, Map<String, List<String>> headers) {
    return assertThrows(CallerRejectedException.class, () -> verifier.verify(headers)).reason();
  }

  private List<KeyHealth> healths() {
    List<KeyHealth> healths = new ArrayList<>();
    events.forEach(event -> healths.add(event.health()));
    return healths;
  }

  private static void pollUntil(BooleanSupplier condition) {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime() - deadline).isLessThan(0L);
      Thread.onSpinWait();
      Thread.yield();
    }
  }

  @Test
  void stats_beforeAnything_zeroForEveryReasonAndOutcome() {
    CallerVerifier verifier = builder().build();
    verifiers.add(verifier);

    VerifierStats stats = verifier.stats();

    assertThat(stats.takenAt()).isEqualTo(NOW);
    assertThat(stats.rejected().keySet()).containsExactlyElementsIn(Reason.values()).inOrder();
    assertThat(stats.rejected().values()).containsNoneOf(1L, 2L);
    assertThat(stats.rejectedTotal()).isEqualTo(0);
    assertThat(stats.keyFetches().keySet())
        .containsExactlyElementsIn(KeyFetchOutcome.values())
        .inOrder();
    assertThat(stats.decisions()).isEqualTo(0);
    assertThat(stats.keyHealth()).isEmpty();
    assertThat(stats.keyCount()).isEqualTo(0);
    assertThat(stats.keySetAge()).isEmpty();
    assertThrows(UnsupportedOperationException.class, () -> stats.rejected().put(null, 1L));
  }

  @Test
  void stats_countEachDecisionByReasonAndByCacheLookup() throws Exception {
    CallerVerifier verifier = start(builder());
    String good = issuer.mint(CLIENT, AUDIENCE);
    String stranger = issuer.mint(STRANGER, AUDIENCE);
    String badSignature =
        good.substring(0, good.lastIndexOf('.')) + stranger.substring(stranger.lastIndexOf('.'));

    verifier.verify(bearer(good)); // miss, allowed
    for (int i = 0; i < 5; i++) {
      verifier.verify(bearer(good)); // hits, allowed
    }
    verifier.verifyToken(good); // hit, allowed
    assertThat(rejection(verifier, Map.of())).isEqualTo(Reason.MISSING_CREDENTIALS); // no lookup
    assertThat(rejection(verifier, bearer(stranger))).isEqualTo(Reason.CALLER_NOT_ALLOWED);
    assertThat(rejection(verifier, bearer(badSignature))).isEqualTo(Reason.BAD_SIGNATURE);
    assertThat(rejection(verifier, bearer(stranger))).isEqualTo(Reason.CALLER_NOT_ALLOWED);
    clock.advance(Duration.ofSeconds(42));

    VerifierStats stats = verifier.stats();
    assertThat(stats.allowed()).isEqualTo(7);
    assertThat(stats.rejected().get(Reason.MISSING_CREDENTIALS)).isEqualTo(1);
    assertThat(stats.rejected().get(Reason.CALLER_NOT_ALLOWED)).isEqualTo(2);
    assertThat(stats.rejected().get(Reason.BAD_SIGNATURE)).isEqualTo(1);
    assertThat(stats.rejectedTotal()).isEqualTo(4);
    assertThat(stats.verificationErrors()).isEqualTo(0);
    assertThat(stats.decisions()).isEqualTo(11);
    assertThat(stats.tokenCacheHits()).isEqualTo(6);
    assertThat(stats.tokenCacheMisses()).isEqualTo(4); // rejections are never cached
    assertThat(stats.keyFetches().get(KeyFetchOutcome.SUCCESS)).isEqualTo(1);
    assertThat(stats.keyFetches().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(1);
    assertThat(stats.keyHealth()).hasValue(KeyHealth.LOADED);
    assertThat(stats.keyCount()).isEqualTo(issuer.keyIds().size());
    assertThat(stats.keySetAge()).hasValue(Duration.ofSeconds(42));
  }

  @Test
  void stats_cacheOff_everyVerificationIsAMiss() throws Exception {
    CallerVerifier verifier = start(builder().disableVerifiedTokenCache());
    String good = issuer.mint(CLIENT, AUDIENCE);

    for (int i = 0; i < 3; i++) {
      verifier.verify(bearer(good));
    }

    assertThat(verifier.stats().tokenCacheHits()).isEqualTo(0);
    assertThat(verifier.stats().tokenCacheMisses()).isEqualTo(3);
    assertThat(verifier.stats().allowed()).isEqualTo(3);
  }

  @Test
  void stats_eightThreadsAtOnce_countsAddUp() throws Exception {
    CallerVerifier verifier = start(builder());
    String good = issuer.mint(CLIENT, AUDIENCE);
    verifier.verify(bearer(good));
    ExecutorService threads = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        done.add(
            threads.submit(
                () -> {
                  for (int i = 0; i < 5000; i++) {
                    verifier.verify(bearer(good));
                    assertThat(rejection(verifier, Map.of())).isEqualTo(Reason.MISSING_CREDENTIALS);
                  }
                  return null;
                }));
      }
      for (Future<?> thread : done) {
        thread.get(60, TimeUnit.SECONDS);
      }
    } finally {
      threads.shutdownNow();
    }

    VerifierStats stats = verifier.stats();
    assertThat(stats.allowed()).isEqualTo(40_001);
    assertThat(stats.tokenCacheHits()).isEqualTo(40_000);
    assertThat(stats.tokenCacheMisses()).isEqualTo(1);
    assertThat(stats.rejected().get(Reason.MISSING_CREDENTIALS)).isEqualTo(40_000);
    assertThat(stats.decisions()).isEqualTo(80_001);
  }

  @Test
  void keyHealth_realEndpointOutage_eachChangeOnceNeverPerRequest_thenRecovered() throws Exception {
    CallerVerifier verifier = start(builder());
    String good = issuer.mint(CLIENT, AUDIENCE);
    verifier.verify(bearer(good));
    assertThat(healths()).containsExactly(KeyHealth.LOADED);

    // The endpoint fails; the refresh from 300 s fails in the background, requests still pass.
    issuer.jwks().respondWith(503, "");
    clock.advance(Duration.ofSeconds(300));
    for (int i = 0; i < 1000; i++) {
      verifier.verify(bearer(good));
    }
    pollUntil(() -> events.size() == 2);
    for (int i = 0; i < 1000; i++) {
      verifier.verify(bearer(good));
    }
    assertThat(healths()).containsExactly(KeyHealth.LOADED, KeyHealth.FETCH_FAILED).inOrder();
    assertThat(events.get(1).fetchOutcome()).hasValue(KeyFetchOutcome.HTTP_STATUS);
    assertThat(events.get(1).detail()).hasValue("HTTP 503");

    // Past the expiry: stale keys in use, reported by the request that saw it.
    clock.advance(Duration.ofSeconds(301));
    for (int i = 0; i < 1000; i++) {
      verifier.verify(bearer(good));
    }
    assertThat(healths())
        .containsExactly(KeyHealth.LOADED, KeyHealth.FETCH_FAILED, KeyHealth.STALE_IN_USE)
        .inOrder();
    pollUntil(() -> verifier.stats().keyFetches().get(KeyFetchOutcome.HTTP_STATUS) == 2);

    // Past the staleness bound: unusable, requests refused with 503's reason; one event.
    clock.advance(Duration.ofSeconds(600));
    for (int i = 0; i < 1000; i++) {
      assertThat(rejection(verifier, bearer(good))).isEqualTo(Reason.KEYS_UNAVAILABLE);
    }
    assertThat(healths())
        .containsExactly(
            KeyHealth.LOADED, KeyHealth.FETCH_FAILED, KeyHealth.STALE_IN_USE, KeyHealth.UNUSABLE)
        .inOrder();

    // The endpoint is back: the next fetch recovers.
    issuer.jwks().respondNormally();
    clock.advance(Duration.ofSeconds(1));
    verifier.verify(bearer(good));
    for (int i = 0; i < 1000; i++) {
      verifier.verify(bearer(good));
    }

    assertThat(healths())
        .containsExactly(
            KeyHealth.LOADED,
            KeyHealth.FETCH_FAILED,
            KeyHealth.STALE_IN_USE,
            KeyHealth.UNUSABLE,
            KeyHealth.RECOVERED)
        .inOrder();
    KeyHealthEvent recovered = events.get(4);
    assertThat(recovered.failedFetches()).isEqualTo(3);
    assertThat(recovered.outage()).hasValue(Duration.ofSeconds(902));
    VerifierStats stats = verifier.stats();
    assertThat(stats.keyFetches().get(KeyFetchOutcome.HTTP_STATUS)).isEqualTo(3);
    assertThat(stats.keyFetches().get(KeyFetchOutcome.SUCCESS)).isEqualTo(2);
    assertThat(stats.rejected().get(Reason.KEYS_UNAVAILABLE)).isEqualTo(1000);
    assertThat(stats.allowed()).isEqualTo(4002);
    assertThat(stats.keyHealth()).hasValue(KeyHealth.RECOVERED);
  }
}
