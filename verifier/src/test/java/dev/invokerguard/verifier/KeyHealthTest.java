package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.verifier.KeyFetcher.FetchedKeys;
import java.net.ConnectException;
import java.net.URI;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link JwksKeyCache}'s key health events with a scripted {@link KeyFetcher} and a mutable clock:
 * each state change reported exactly once, in order, with its facts, and nothing per request. The
 * same through a real loopback key endpoint is {@link VerifierStatsTest}'s.
 */
final class KeyHealthTest {
  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
  private static final URI JWKS = URI.create("http://127.0.0.1:1/certs");
  private static final Duration INTERVAL = Duration.ofSeconds(10);
  private static final Duration STALENESS = Duration.ofHours(1);
  private static final Duration WAIT = Duration.ofSeconds(20);

  // max-age=3600 and the default refresh-ahead of 5 minutes:
  private static final Instant REFRESH_AT = START.plusSeconds(3300);
  private static final Instant EXPIRES_AT = START.plusSeconds(3600);
  private static final Instant USABLE_UNTIL = EXPIRES_AT.plus(STALENESS);

  private static RSAPublicKey keyA;

  private final MutableClock clock = new MutableClock(START);
  private final ScriptedFetcher fetcher = new ScriptedFetcher();
  private final List<KeyHealthEvent> events = new CopyOnWriteArrayList<>();
  private final ExecutorService callers = Executors.newCachedThreadPool();
  private JwksKeyCache cache = cache(Duration.ofMinutes(5), events::add);

  @BeforeAll
  static void generateKeys() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    keyA = (RSAPublicKey) generator.generateKeyPair().getPublic();
  }

  @AfterEach
  void close() {
    cache.close();
    callers.shutdownNow();
  }

  private JwksKeyCache cache(Duration refreshAhead, KeyHealthListener listener) {
    return new JwksKeyCache(
        KeyCacheConfig.builder()
            .jwksUri(JWKS)
            .clock(clock)
            .keyFetchTimeout(WAIT)
            .maxKeyStaleness(STALENESS)
            .keyRefetchInterval(INTERVAL)
            .refreshAhead(refreshAhead)
            .keyHealthListener(listener)
            .build(),
        fetcher);
  }

  /** Fetches that the test ends. */
  private static final class ScriptedFetcher implements KeyFetcher {
    final List<CompletableFuture<FetchedKeys>> fetches = new CopyOnWriteArrayList<>();

    @Override
    public CompletableFuture<FetchedKeys> fetch() {
      CompletableFuture<FetchedKeys> fetch = new CompletableFuture<>();
      fetches.add(fetch);
      return fetch;
    }

    @Override
    public void close() {}

    CompletableFuture<FetchedKeys> last() {
      return fetches.get(fetches.size() - 1);
    }
  }

  private FetchedKeys keys() {
    return new FetchedKeys(Map.of("a", keyA), clock.instant(), List.of("max-age=3600"), List.of());
  }

  private void load() throws Exception {
    CompletableFuture<Void> loaded = cache.prefetch();
    fetcher.last().complete(keys());
    loaded.get(30, TimeUnit.SECONDS);
  }

  /** One request at the clock's instant that triggers the next fetch, which then fails. */
  private void failNextFetch(Exception failure) throws Exception {
    int before = fetcher.fetches.size();
    Future<?> request = callers.submit(() -> cache.key("a", clock.instant()));
    awaitFetches(before + 1);
    fetcher.last().completeExceptionally(failure);
    try {
      request.get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      assertThat(((CallerRejectedException) e.getCause()).reason())
          .isEqualTo(Reason.KEYS_UNAVAILABLE);
    }
  }

  private void awaitFetches(int count) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (fetcher.fetches.size() < count) {
      assertThat(System.nanoTime() - deadline).isLessThan(0L);
      Thread.onSpinWait();
      Thread.yield();
    }
  }

  private void requests(int count) throws CallerRejectedException {
    for (int i = 0; i < count; i++) {
      assertThat(cache.key("a", clock.instant())).isEqualTo(keyA);
    }
  }

  private List<KeyHealth> healths() {
    List<KeyHealth> healths = new ArrayList<>();
    for (KeyHealthEvent event : events) {
      healths.add(event.health());
    }
    return healths;
  }

  private static KeyFetchException status503() {
    return new KeyFetchException(KeyFetchOutcome.HTTP_STATUS, "HTTP 503");
  }

  @Test
  void firstLoad_oneLoadedEvent_routineRefreshesReportNothing() throws Exception {
    load();
    requests(1000);

    assertThat(healths()).containsExactly(KeyHealth.LOADED);
    KeyHealthEvent loaded = events.get(0);
    assertThat(loaded.at()).isEqualTo(START);
    assertThat(loaded.jwksUri()).isEqualTo(JWKS);
    assertThat(loaded.keyCount()).isEqualTo(1);
    assertThat(loaded.keyAge()).hasValue(Duration.ZERO);
    assertThat(loaded.usableFor()).isEqualTo(Duration.ofSeconds(7200));
    assertThat(loaded.fetchOutcome()).isEmpty();
    assertThat(loaded.message()).isEqualTo("signing keys: loaded 1 keys, usable for 7200 s");

    clock.set(REFRESH_AT);
    requests(1); // starts the background refresh
    awaitFetches(2);
    fetcher.last().complete(keys());
    requests(1000);

    assertThat(healths()).containsExactly(KeyHealth.LOADED);
  }

  @Test
  void outage_eachTransitionExactlyOnce_noEventPerRequest_thenRecoveredWithCountAndLength()
      throws Exception {
    load();

    // The refresh at refreshAt fails: FETCH_FAILED, once, while the fresh set still serves.
    clock.set(REFRESH_AT);
    failNextFetch(status503());
    requests(1000);
    for (int i = 0; i < 3; i++) { // more failures of the same run: nothing new
      clock.advance(INTERVAL);
      failNextFetch(status503());
    }
    requests(1000);
    assertThat(healths()).containsExactly(KeyHealth.LOADED, KeyHealth.FETCH_FAILED).inOrder();
    KeyHealthEvent failed = events.get(1);
    assertThat(failed.at()).isEqualTo(REFRESH_AT);
    assertThat(failed.fetchOutcome()).hasValue(KeyFetchOutcome.HTTP_STATUS);
    assertThat(failed.detail()).hasValue("HTTP 503");
    assertThat(failed.exceptionClass()).isEmpty();
    assertThat(failed.keyAge()).hasValue(Duration.ofSeconds(3300));
    assertThat(failed.usableFor()).isEqualTo(Duration.ofSeconds(3900));
    assertThat(failed.failedFetches()).isEqualTo(1);
    assertThat(failed.message())
        .isEqualTo(
            "signing keys: fetch failed (HTTP_STATUS: HTTP 503); keys in use are 3300 s old and"
                + " usable for 3900 s more");

    // Time alone: past the expiry the set is still used, reported once on the request path.
    clock.set(EXPIRES_AT);
    requests(1000);
    assertThat(healths())
        .containsExactly(KeyHealth.LOADED, KeyHealth.FETCH_FAILED, KeyHealth.STALE_IN_USE)
        .inOrder();
    KeyHealthEvent stale = events.get(2);
    assertThat(stale.at()).isEqualTo(EXPIRES_AT);
    assertThat(stale.usableFor()).isEqualTo(STALENESS);
    assertThat(stale.failedFetches()).isEqualTo(4);
    // Those requests also started the next retry (the rate limit allowed one); it fails too.
    awaitFetches(6);
    fetcher.last().completeExceptionally(status503());
    assertThat(events).hasSize(3);

    // Past the staleness bound: UNUSABLE once, and requests are refused.
    clock.set(USABLE_UNTIL);
    failNextFetch(status503());
    for (int i = 0; i < 1000; i++) {
      assertThat(
              assertThrows(CallerRejectedException.class, () -> cache.key("a", clock.instant()))
                  .reason())
          .isEqualTo(Reason.KEYS_UNAVAILABLE);
    }
    assertThat(healths())
        .containsExactly(
            KeyHealth.LOADED, KeyHealth.FETCH_FAILED, KeyHealth.STALE_IN_USE, KeyHealth.UNUSABLE)
        .inOrder();
    KeyHealthEvent unusable = events.get(3);
    assertThat(unusable.at()).isEqualTo(USABLE_UNTIL);
    assertThat(unusable.usableFor()).isEqualTo(Duration.ZERO);
    assertThat(unusable.fetchOutcome()).isEmpty(); // caused by time, not by a fetch

    // A fetch succeeds: RECOVERED with the run's failed fetches and the outage's length.
    clock.advance(INTERVAL);
    Future<RSAPublicKey> request = callers.submit(() -> cache.key("a", clock.instant()));
    awaitFetches(8);
    fetcher.last().complete(keys());
    assertThat(request.get(30, TimeUnit.SECONDS)).isEqualTo(keyA);
    requests(1000);

    assertThat(healths())
        .containsExactly(
            KeyHealth.LOADED,
            KeyHealth.FETCH_FAILED,
            KeyHealth.STALE_IN_USE,
            KeyHealth.UNUSABLE,
            KeyHealth.RECOVERED)
        .inOrder();
    KeyHealthEvent recovered = events.get(4);
    assertThat(recovered.failedFetches()).isEqualTo(6);
    assertThat(recovered.outage())
        .hasValue(Duration.between(REFRESH_AT, USABLE_UNTIL.plus(INTERVAL)));
    assertThat(recovered.keyCount()).isEqualTo(1);
    assertThat(cache.status(clock.instant()).fetches()[KeyFetchOutcome.HTTP_STATUS.ordinal()])
        .isEqualTo(6);
    assertThat(cache.status(clock.instant()).fetches()[KeyFetchOutcome.SUCCESS.ordinal()])
        .isEqualTo(2);
  }

  @Test
  void firstFetchFails_unusableOnce_requestsDuringTheOutageReportNothing_thenRecovered()
      throws Exception {
    CompletableFuture<Void> loading = cache.prefetch();
    fetcher.last().completeExceptionally(new ConnectException("Connection refused"));
    assertThrows(ExecutionException.class, () -> loading.get(30, TimeUnit.SECONDS));

    for (int i = 0; i < 1000; i++) { // rate limited: refused at once, no fetch, no event
      assertThat(
              assertThrows(CallerRejectedException.class, () -> cache.key("a", clock.instant()))
                  .reason())
          .isEqualTo(Reason.KEYS_UNAVAILABLE);
    }
    assertThat(healths()).containsExactly(KeyHealth.UNUSABLE);
    KeyHealthEvent unusable = events.get(0);
    assertThat(unusable.fetchOutcome()).hasValue(KeyFetchOutcome.IO_ERROR);
    assertThat(unusable.exceptionClass()).hasValue("java.net.ConnectException");
    assertThat(unusable.keyCount()).isEqualTo(0);
    assertThat(unusable.keyAge()).isEmpty();
    assertThat(unusable.usableFor()).isEqualTo(Duration.ZERO);
    assertThat(unusable.message()).doesNotContain("Connection refused"); // class only

    clock.advance(INTERVAL);
    failNextFetch(new java.net.SocketTimeoutException("read timed out"));
    assertThat(healths()).containsExactly(KeyHealth.UNUSABLE);

    clock.advance(INTERVAL);
    Future<RSAPublicKey> request = callers.submit(() -> cache.key("a", clock.instant()));
    awaitFetches(3);
    fetcher.last().complete(keys());
    assertThat(request.get(30, TimeUnit.SECONDS)).isEqualTo(keyA);

    // A first load after failures is a recovery (it closes the UNUSABLE), not LOADED.
    assertThat(healths()).containsExactly(KeyHealth.UNUSABLE, KeyHealth.RECOVERED).inOrder();
    assertThat(events.get(1).failedFetches()).isEqualTo(2);
    assertThat(events.get(1).outage()).hasValue(INTERVAL.multipliedBy(2));
    assertThat(cache.status(clock.instant()).fetches()[KeyFetchOutcome.TIMEOUT.ordinal()])
        .isEqualTo(1);
  }

  @Test
  void refreshFailsAfterExpiry_fetchFailedThenStaleInUseAtOnce() throws Exception {
    cache.close();
    cache = cache(Duration.ZERO, events::add); // no refresh ahead: the first refresh is at expiry
    load();

    clock.set(EXPIRES_AT.plusSeconds(1));
    failNextFetch(new KeyFetchException(KeyFetchOutcome.INVALID_BODY, "the body is not JSON"));
    requests(1000);

    assertThat(healths())
        .containsExactly(KeyHealth.LOADED, KeyHealth.FETCH_FAILED, KeyHealth.STALE_IN_USE)
        .inOrder();
    assertThat(events.get(2).fetchOutcome()).hasValue(KeyFetchOutcome.INVALID_BODY);
  }

  @Test
  void staleByTime_manyThreadsAtOnce_oneEvent() throws Exception {
    load();
    clock.set(REFRESH_AT);
    failNextFetch(status503());
    clock.set(EXPIRES_AT);

    List<Future<?>> threads = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      threads.add(
          callers.submit(
              () -> {
                requests(2000);
                return null;
              }));
    }
    for (Future<?> thread : threads) {
      thread.get(60, TimeUnit.SECONDS);
    }

    assertThat(healths())
        .containsExactly(KeyHealth.LOADED, KeyHealth.FETCH_FAILED, KeyHealth.STALE_IN_USE)
        .inOrder();
  }

  @Test
  void listenerThrows_decisionsUnchangedAndLaterEventsStillReported() throws Exception {
    cache.close();
    List<KeyHealth> seen = new CopyOnWriteArrayList<>();
    cache =
        cache(
            Duration.ofMinutes(5),
            event -> {
              seen.add(event.health());
              throw new IllegalStateException("listener bug");
            });
    load();
    requests(10);
    clock.set(REFRESH_AT);
    failNextFetch(status503());
    requests(10);

    assertThat(seen).containsExactly(KeyHealth.LOADED, KeyHealth.FETCH_FAILED).inOrder();
  }

  @Test
  void noListenerSet_eventsGoToTheSystemLogger() throws Exception {
    cache.close();
    cache =
        new JwksKeyCache(
            KeyCacheConfig.builder().jwksUri(JWKS).clock(clock).keyFetchTimeout(WAIT).build(),
            fetcher);
    java.util.logging.Logger logger = java.util.logging.Logger.getLogger(KeyHealth.class.getName());
    List<java.util.logging.LogRecord> records = new CopyOnWriteArrayList<>();
    java.util.logging.Handler handler =
        new java.util.logging.Handler() {
          @Override
          public void publish(java.util.logging.LogRecord record) {
            records.add(record);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    logger.addHandler(handler);
    try {
      CompletableFuture<Void> loading = cache.prefetch();
      fetcher.last().completeExceptionally(status503());
      assertThrows(ExecutionException.class, () -> loading.get(30, TimeUnit.SECONDS));
    } finally {
      logger.removeHandler(handler);
    }

    assertThat(records).hasSize(1);
    assertThat(records.get(0).getLevel()).isEqualTo(java.util.logging.Level.SEVERE);
    assertThat(new java.util.logging.SimpleFormatter().formatMessage(records.get(0)))
        .isEqualTo(
            "signing keys: none usable (HTTP_STATUS: HTTP 503); requests get 503 until a fetch"
                + " succeeds ("
                + JWKS
                + ")");
  }
}
