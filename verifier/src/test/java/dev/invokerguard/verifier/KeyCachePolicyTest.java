package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.verifier.KeyFetcher.FetchedKeys;
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
 * {@link JwksKeyCache}'s policy (single flight, rate limit, staleness, freshness) with a scripted
 * {@link KeyFetcher}: each fetch is a future the test completes when and how it chooses, so the
 * order of events is fixed by the test, not by a server's timing. The HTTP fetch itself is {@link
 * JwksKeyCacheTest}'s, against loopback servers.
 */
final class KeyCachePolicyTest {
  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
  private static final Duration INTERVAL = Duration.ofSeconds(10);

  /** How long a caller may wait for a fetch; the test ends every fetch long before. */
  private static final Duration WAIT = Duration.ofSeconds(20);

  private static RSAPublicKey keyA;
  private static RSAPublicKey keyB;

  private final MutableClock clock = new MutableClock(START);
  private final ScriptedFetcher fetcher = new ScriptedFetcher();
  private final JwksKeyCache cache =
      new JwksKeyCache(
          KeyCacheConfig.builder()
              .jwksUri(URI.create("http://127.0.0.1:1/certs"))
              .clock(clock)
              .keyFetchTimeout(WAIT)
              .maxKeyStaleness(Duration.ofHours(1))
              .keyRefetchInterval(INTERVAL)
              .build(),
          fetcher);
  private final ExecutorService callers = Executors.newCachedThreadPool();

  @BeforeAll
  static void generateKeys() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    keyA = (RSAPublicKey) generator.generateKeyPair().getPublic();
    keyB = (RSAPublicKey) generator.generateKeyPair().getPublic();
  }

  @AfterEach
  void close() {
    cache.close();
    callers.shutdownNow();
  }

  /** Fetches that the test ends; counts them. */
  private static final class ScriptedFetcher implements KeyFetcher {
    final List<CompletableFuture<FetchedKeys>> fetches = new CopyOnWriteArrayList<>();
    volatile boolean closed;

    @Override
    public CompletableFuture<FetchedKeys> fetch() {
      CompletableFuture<FetchedKeys> fetch = new CompletableFuture<>();
      fetches.add(fetch);
      return fetch;
    }

    @Override
    public void close() {
      closed = true;
    }

    CompletableFuture<FetchedKeys> last() {
      return fetches.get(fetches.size() - 1);
    }
  }

  private FetchedKeys keys(Map<String, RSAPublicKey> keys, String cacheControl, String age) {
    return new FetchedKeys(
        keys,
        clock.instant(),
        cacheControl == null ? List.of() : List.of(cacheControl),
        age == null ? List.of() : List.of(age));
  }

  private Future<RSAPublicKey> keyInBackground(String kid) {
    Instant now = clock.instant();
    return callers.submit(() -> cache.key(kid, now));
  }

  private Reason rejection(String kid) {
    return assertThrows(CallerRejectedException.class, () -> cache.key(kid, clock.instant()))
        .reason();
  }

  private void awaitFetches(int count) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (fetcher.fetches.size() < count) {
      assertThat(System.nanoTime() - deadline).isLessThan(0L);
      Thread.onSpinWait();
      Thread.yield();
    }
  }

  private static Reason reasonOf(Future<RSAPublicKey> call) throws Exception {
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
    return ((CallerRejectedException) e.getCause()).reason();
  }

  private void load() throws Exception {
    CompletableFuture<Void> loaded = cache.prefetch();
    fetcher.last().complete(keys(Map.of("a", keyA), "max-age=3600", null));
    loaded.get(30, TimeUnit.SECONDS);
  }

  @Test
  void key_coldCache_everyCallerWaitsForTheOneFetch() throws Exception {
    List<Future<RSAPublicKey>> calls = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      calls.add(keyInBackground("a"));
    }
    awaitFetches(1);

    fetcher.last().complete(keys(Map.of("a", keyA), null, null));

    for (Future<RSAPublicKey> call : calls) {
      assertThat(call.get(30, TimeUnit.SECONDS)).isEqualTo(keyA);
    }
    assertThat(fetcher.fetches).hasSize(1);
    assertThat(cache.fetchesStarted()).isEqualTo(1);
  }

  @Test
  void key_unknownKidAndTheRefetchFails_keysUnavailableAndRateLimitHoldsTheNextFetch()
      throws Exception {
    load();
    clock.advance(INTERVAL);

    Future<RSAPublicKey> waiting = keyInBackground("b");
    awaitFetches(2);
    fetcher
        .last()
        .completeExceptionally(new KeyFetchException(KeyFetchOutcome.HTTP_STATUS, "HTTP 503"));

    assertThat(reasonOf(waiting)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    clock.advance(INTERVAL.minusSeconds(1));
    assertThat(rejection("b")).isEqualTo(Reason.KEYS_UNAVAILABLE); // not judged: no fresh set
    assertThat(cache.key("a", clock.instant())).isEqualTo(keyA); // the last good set still serves
    assertThat(fetcher.fetches).hasSize(2);

    clock.advance(Duration.ofSeconds(1));
    Future<RSAPublicKey> found = keyInBackground("b");
    awaitFetches(3);
    fetcher.last().complete(keys(Map.of("a", keyA, "b", keyB), "max-age=3600", null));
    assertThat(found.get(30, TimeUnit.SECONDS)).isEqualTo(keyB);
    assertThat(rejection("made-up")).isEqualTo(Reason.UNKNOWN_KEY_ID); // judged by a fresh set
  }

  @Test
  void key_clockSteppedBackByMoreThanAnInterval_fetchAllowed() throws Exception {
    load();
    clock.set(START.minus(INTERVAL.multipliedBy(2)));

    Future<RSAPublicKey> waiting = keyInBackground("b");
    awaitFetches(2);
    fetcher.last().complete(keys(Map.of("b", keyB), "max-age=3600", null));

    assertThat(waiting.get(30, TimeUnit.SECONDS)).isEqualTo(keyB);
  }

  @Test
  void key_clockSteppedBackByLessThanAnInterval_noFetch() throws Exception {
    load();
    clock.set(START.minus(INTERVAL.dividedBy(2)));

    assertThat(rejection("b")).isEqualTo(Reason.UNKNOWN_KEY_ID);
    assertThat(fetcher.fetches).hasSize(1);
  }

  @Test
  void prefetch_responseWithMaxAgeAndAge_freshForTheDifference() throws Exception {
    CompletableFuture<Void> loaded = cache.prefetch();
    fetcher.last().complete(keys(Map.of("a", keyA), "max-age=100", "40"));
    loaded.get(30, TimeUnit.SECONDS);

    assertThat(cache.currentKeySet().expiresAt()).isEqualTo(START.plusSeconds(60));
  }

  @Test
  void close_fetchEndsAfterwards_keySetNotInstalledAndFetcherClosed() throws Exception {
    CompletableFuture<Void> loading = cache.prefetch();

    cache.close();
    fetcher.last().complete(keys(Map.of("a", keyA), null, null));

    assertThat(fetcher.closed).isTrue();
    assertThrows(ExecutionException.class, () -> loading.get(30, TimeUnit.SECONDS));
    assertThat(cache.currentKeySet()).isNull();
    assertThat(rejection("a")).isEqualTo(Reason.KEYS_UNAVAILABLE);
    assertThat(fetcher.fetches).hasSize(1);
  }
}
