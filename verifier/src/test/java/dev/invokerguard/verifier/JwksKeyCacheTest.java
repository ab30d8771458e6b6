package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.invokerguard.testing.JwksEndpoint;
import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.testing.TricklingEndpoint;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link JwksKeyCache} against a real loopback key endpoint ({@link TestIssuer}) that misbehaves on
 * cue, with a {@link MutableClock} for time. Nothing sleeps: background fetches are awaited by
 * polling the server's request count (or the cache's state) with a deadline, and "no fetch" is read
 * from {@link JwksKeyCache#fetchesStarted()}, which counts synchronously.
 */
final class JwksKeyCacheTest {
  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");

  /**
   * Long enough for a fetch from loopback on a busy two-core machine (a cold JVM loads the HTTP
   * client on the first fetch); it costs time only where a test waits for a fetch that hangs.
   */
  private static final Duration TIMEOUT = Duration.ofSeconds(2);

  /** The short timeout of the tests where the server hangs, so that they stay fast. */
  private static final Duration HANG_TIMEOUT = Duration.ofMillis(400);

  private static final Duration INTERVAL = Duration.ofSeconds(10);
  private static final Duration STALENESS = Duration.ofHours(1);
  private static final Duration DEFAULT_TTL = Duration.ofMinutes(5);
  private static final Duration REFRESH_AHEAD = Duration.ofMinutes(5);
  private static final int MAX_BODY = 64 * 1024;

  /** How long a test waits for something that should happen in milliseconds. */
  private static final Duration DEADLINE = Duration.ofSeconds(10);

  private final MutableClock clock = MutableClock.of(START);
  private final Deque<AutoCloseable> toClose = new ArrayDeque<>();

  @AfterEach
  void closeEverything() throws Exception {
    while (!toClose.isEmpty()) {
      toClose.pop().close(); // caches before the issuers they were opened on
    }
  }

  @Test
  void key_coldCache_fetchesOnceAndAnswersFromTheSet() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);

    for (String kid : issuer.keyIds()) {
      assertThat(key(cache, kid)).isEqualTo(issuer.publicKey(kid));
    }

    assertThat(cache.fetchesStarted()).isEqualTo(1);
    assertThat(issuer.jwks().requestCount()).isEqualTo(1);
  }

  @Test
  void key_freshForMaxAgeMinusAge_refreshStartsAtRefreshTimeNotBefore() throws Exception {
    TestIssuer issuer = issuer(); // max-age=3600
    issuer.jwks().age(600);
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    String kid = issuer.activeKeyId();

    load(cache);
    // RFC 9111 4.2.3: 3600 - 600 = 3000 s fresh; refresh 5 min ahead, at 2700 s.
    assertThat(cache.currentKeySet().expiresAt()).isEqualTo(START.plusSeconds(3000));
    clock.set(START.plusSeconds(2699));
    key(cache, kid);
    assertThat(cache.fetchesStarted()).isEqualTo(1);

    clock.set(START.plusSeconds(2700));
    assertThat(key(cache, kid)).isEqualTo(issuer.publicKey(kid));
    assertThat(cache.fetchesStarted()).isEqualTo(2);
    awaitRequests(issuer, 2);
  }

  @Test
  void key_withoutRefreshAhead_refetchesAtExpiryNotBefore() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, Duration.ZERO);
    String kid = issuer.activeKeyId();

    load(cache);
    clock.set(START.plusSeconds(3599));
    key(cache, kid);
    assertThat(cache.fetchesStarted()).isEqualTo(1);

    clock.set(START.plusSeconds(3600));
    key(cache, kid);
    assertThat(cache.fetchesStarted()).isEqualTo(2);
    awaitRequests(issuer, 2);
    // The new set is fresh from its own fetch time on.
    pollUntil(() -> cache.currentKeySet().fetchedAt().equals(START.plusSeconds(3600)));
    assertThat(cache.currentKeySet().expiresAt()).isEqualTo(START.plusSeconds(7200));
  }

  static Stream<Arguments> freshnessHeaders() {
    return Stream.of(
        Arguments.of("public, max-age=3600, must-revalidate, no-transform", null, 3600),
        Arguments.of("public, max-age=3600", 3500, 100),
        Arguments.of(null, null, DEFAULT_TTL.toSeconds()), // no Cache-Control: default
        Arguments.of("public, must-revalidate", null, DEFAULT_TTL.toSeconds()),
        Arguments.of("no-cache, max-age=3600", null, DEFAULT_TTL.toSeconds()),
        Arguments.of("no-store", null, DEFAULT_TTL.toSeconds()),
        Arguments.of("max-age=0", null, INTERVAL.toSeconds()), // clamped up to the rate limit
        Arguments.of("max-age=3600", 7200, INTERVAL.toSeconds()), // older than its max-age
        Arguments.of("max-age=soon", null, INTERVAL.toSeconds()), // invalid: stale
        Arguments.of("max-age=99999999999999999999", null, 24 * 3600)); // clamped down to 24 h
  }

  @ParameterizedTest
  @MethodSource("freshnessHeaders")
  void key_cacheControlAndAge_setTheKeySetLifetime(
      String cacheControl, Integer age, long expectedSeconds) throws Exception {
    TestIssuer issuer = issuer();
    issuer.jwks().cacheControl(cacheControl).age(age);
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);

    load(cache);

    assertThat(cache.currentKeySet().expiresAt()).isEqualTo(START.plusSeconds(expectedSeconds));
  }

  @Test
  void key_atRefreshTime_answersAtOnceWhileOneBackgroundFetchRuns() throws Exception {
    TestIssuer issuer = issuer();
    Duration slowServer = Duration.ofMillis(1500);
    JwksKeyCache cache = cache(issuer.jwksUri(), Duration.ofSeconds(5), REFRESH_AHEAD);
    String oldKid = issuer.activeKeyId();
    load(cache);
    String newKid = issuer.rotate();
    issuer.jwks().delay(slowServer);

    clock.set(START.plusSeconds(3600 - 300)); // refreshAt
    long begin = System.nanoTime();
    for (int i = 0; i < 20; i++) {
      assertThat(key(cache, oldKid)).isEqualTo(issuer.publicKey(oldKid));
    }
    Duration elapsed = Duration.ofNanos(System.nanoTime() - begin);

    // Twenty requests answered in less time than the server takes for one response.
    assertThat(elapsed).isLessThan(slowServer.dividedBy(2));
    assertThat(cache.fetchesStarted()).isEqualTo(2);
    awaitRequests(issuer, 2);
    pollUntil(() -> cache.currentKeySet().keys().containsKey(newKid));
    assertThat(issuer.jwks().requestCount()).isEqualTo(2);
    assertThat(cache.fetchesStarted()).isEqualTo(2);
  }

  @Test
  void key_fiftyConcurrentCallersOnColdCacheWithSlowServer_shareOneFetch() throws Exception {
    TestIssuer issuer = issuer();
    issuer.jwks().delay(Duration.ofMillis(300));
    JwksKeyCache cache = cache(issuer.jwksUri(), Duration.ofSeconds(3), REFRESH_AHEAD);
    String kid = issuer.activeKeyId();

    List<RSAPublicKey> keys = concurrently(50, () -> key(cache, kid));

    assertThat(keys).hasSize(50);
    assertThat(keys.stream().distinct().toList()).containsExactly(issuer.publicKey(kid));
    assertThat(issuer.jwks().requestCount()).isEqualTo(1);
    assertThat(cache.fetchesStarted()).isEqualTo(1);
  }

  @Test
  void key_unknownKidWithinRefetchInterval_rejectedAtOnceWithoutFetch() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    load(cache);
    String newKid = issuer.rotate();
    clock.advance(INTERVAL.minusSeconds(1));

    assertThat(rejection(cache, newKid)).isEqualTo(Reason.UNKNOWN_KEY_ID);
    assertThat(cache.fetchesStarted()).isEqualTo(1);
  }

  @Test
  void key_unknownKidAfterRefetchInterval_refetchesAndFindsRotatedKey() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    load(cache);
    String newKid = issuer.rotate();
    clock.advance(INTERVAL);

    assertThat(key(cache, newKid)).isEqualTo(issuer.publicKey(newKid));
    assertThat(issuer.jwks().requestCount()).isEqualTo(2);
  }

  /**
   * Issue 12 item 3: right after the signer starts using a new key, the endpoint is down. The token
   * was not judged (no fresh set could be loaded), so it is not the caller's fault: {@code
   * KEYS_UNAVAILABLE} (503), also while the rate limit holds back the retry, and the key is found
   * once the endpoint recovers.
   */
  @Test
  void key_unknownKidWhileEndpointFails_keysUnavailableNotUnknownThenFound() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    String oldKid = issuer.activeKeyId();
    load(cache);
    String newKid = issuer.rotate();
    issuer.jwks().respondWith(503, "");
    clock.advance(INTERVAL);

    assertThat(rejection(cache, newKid)).isEqualTo(Reason.KEYS_UNAVAILABLE); // the fetch failed
    assertThat(rejection(cache, newKid)).isEqualTo(Reason.KEYS_UNAVAILABLE); // rate limit holds
    assertThat(rejection(cache, "made-up")).isEqualTo(Reason.KEYS_UNAVAILABLE);
    assertThat(key(cache, oldKid)).isEqualTo(issuer.publicKey(oldKid)); // cached keys still work
    assertThat(cache.fetchesStarted()).isEqualTo(2);

    issuer.jwks().respondNormally();
    clock.advance(INTERVAL);
    assertThat(key(cache, newKid)).isEqualTo(issuer.publicKey(newKid));
    assertThat(rejection(cache, "made-up")).isEqualTo(Reason.UNKNOWN_KEY_ID); // judged now
  }

  /** The same when the refetch does not end in time: not judged, so {@code KEYS_UNAVAILABLE}. */
  @Test
  void key_unknownKidWhileEndpointHangs_keysUnavailable() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), HANG_TIMEOUT, REFRESH_AHEAD);
    load(cache);
    String newKid = issuer.rotate();
    issuer.jwks().delay(Duration.ofMinutes(1)); // released when the issuer closes
    clock.advance(INTERVAL);

    assertThat(rejection(cache, newKid)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    pollUntil(() -> !cache.fetchInProgress()); // given up at its deadline
    assertThat(rejection(cache, newKid)).isEqualTo(Reason.KEYS_UNAVAILABLE); // rate limit holds
    assertThat(cache.fetchesStarted()).isEqualTo(2);
  }

  @Test
  void key_floodOfMadeUpKids_fetchesAtMostOncePerInterval() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    load(cache);
    clock.advance(INTERVAL);

    for (int i = 0; i < 200; i++) {
      assertThat(rejection(cache, UUID.randomUUID().toString())).isEqualTo(Reason.UNKNOWN_KEY_ID);
    }
    List<Reason> concurrent =
        concurrently(50, () -> rejection(cache, UUID.randomUUID().toString()));
    assertThat(concurrent.stream().distinct().toList()).containsExactly(Reason.UNKNOWN_KEY_ID);
    assertThat(cache.fetchesStarted()).isEqualTo(2);
    // On a loaded machine the one fetch may still be on its way to the server: wait for it, then
    // check that it was the only one.
    awaitRequests(issuer, 2);
    assertThat(issuer.jwks().requestCount()).isEqualTo(2);

    clock.advance(INTERVAL);
    assertThat(rejection(cache, "made-up")).isEqualTo(Reason.UNKNOWN_KEY_ID);
    assertThat(rejection(cache, "made-up-too")).isEqualTo(Reason.UNKNOWN_KEY_ID);
    assertThat(cache.fetchesStarted()).isEqualTo(3);
    awaitRequests(issuer, 3);
    assertThat(issuer.jwks().requestCount()).isEqualTo(3);
  }

  static Stream<Arguments> outages() {
    byte[] tenMegabytes = new byte[10 * 1024 * 1024];
    Arrays.fill(tenMegabytes, (byte) ' ');
    return Stream.of(
        outage("HTTP 500", e -> e.respondWith(500, "")),
        outage("HTTP 503 with JSON", e -> e.respondWith(503, "{\"keys\":[]}")),
        outage("HTTP 404", e -> e.respondWith(404, "not found")),
        outage("garbage", e -> e.respondWith(200, "<html>garbage</html>")),
        outage("truncated JSON", e -> e.respondWith(200, "{\"keys\":[{\"kty\":\"RSA\"")),
        outage("empty key set", e -> e.respondWith(200, "{\"keys\":[]}")),
        outage("10 MB body", e -> e.respondWithBytes(200, tenMegabytes)));
  }

  private static Arguments outage(String name, Consumer<JwksEndpoint> fault) {
    return Arguments.of(name, fault);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("outages")
  void key_duringOutage_servesLastGoodSetUntilStalenessBoundThenUnavailableThenRecovers(
      String name, Consumer<JwksEndpoint> fault) throws Exception {
    TestIssuer issuer = issuer(); // fresh for 3600 s
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    String kid = issuer.activeKeyId();
    RSAPublicKey expected = issuer.publicKey(kid);
    load(cache);
    fault.accept(issuer.jwks());

    clock.set(START.plusSeconds(3601)); // expired: stale from here on
    assertThat(key(cache, kid)).isEqualTo(expected);
    awaitRequests(issuer, 2);
    pollUntil(() -> cache.fetchesStarted() == 2 && !cache.fetchInProgress());
    clock.set(START.plusSeconds(3600).plus(STALENESS).minusSeconds(1)); // last usable second
    assertThat(key(cache, kid)).isEqualTo(expected);
    awaitRequests(issuer, 3);
    assertThat(cache.currentKeySet().fetchedAt()).isEqualTo(START); // never replaced

    clock.set(START.plusSeconds(3600).plus(STALENESS));
    assertThat(rejection(cache, kid)).isEqualTo(Reason.KEYS_UNAVAILABLE);

    issuer.jwks().reset();
    clock.advance(INTERVAL);
    assertThat(key(cache, kid)).isEqualTo(expected);
    assertThat(cache.currentKeySet().fetchedAt()).isEqualTo(clock.instant());
  }

  @Test
  void key_downAtStart_unavailableThenLoadsOnceEndpointRecovers() throws Exception {
    TestIssuer issuer = issuer();
    issuer.jwks().respondWith(503, "");
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    String kid = issuer.activeKeyId();

    assertThat(rejection(cache, kid)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    issuer.jwks().respondNormally();
    // Still inside the rate limit: refused at once, without hammering the endpoint.
    assertThat(rejection(cache, kid)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    assertThat(cache.fetchesStarted()).isEqualTo(1);

    clock.advance(INTERVAL);
    assertThat(key(cache, kid)).isEqualTo(issuer.publicKey(kid));
    assertThat(issuer.jwks().requestCount()).isEqualTo(2);
  }

  @Test
  void key_hangingServer_callersUnavailableWithinTimeoutAndFetchesDoNotPileUp() throws Exception {
    TestIssuer issuer = issuer();
    issuer.jwks().delay(Duration.ofMinutes(1)); // released when the issuer closes
    JwksKeyCache cache = cache(issuer.jwksUri(), HANG_TIMEOUT, REFRESH_AHEAD);
    String kid = issuer.activeKeyId();

    List<Duration> waits =
        concurrently(
            10,
            () -> {
              long begin = System.nanoTime();
              assertThat(rejection(cache, kid)).isEqualTo(Reason.KEYS_UNAVAILABLE);
              return Duration.ofNanos(System.nanoTime() - begin);
            });

    for (Duration wait : waits) {
      assertThat(wait).isLessThan(HANG_TIMEOUT.multipliedBy(4));
    }
    long begin = System.nanoTime();
    assertThat(rejection(cache, kid)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    Duration lastWait = Duration.ofNanos(System.nanoTime() - begin);
    assertThat(lastWait).isLessThan(HANG_TIMEOUT.multipliedBy(4));
    assertThat(cache.fetchesStarted()).isEqualTo(1);
    assertThat(issuer.jwks().requestCount()).isEqualTo(1);
  }

  /**
   * Issue 12 item 2: a server that sends a status line and then one header byte per quarter of the
   * timeout never trips the per-read timeout. The whole fetch must still end at its deadline (the
   * watchdog hangs up), and the next fetch must be free to start and load the healed endpoint.
   */
  @Test
  void key_endpointTricklesHeaders_fetchEndsAtDeadlineAndTheNextFetchLoads() throws Exception {
    TestIssuer issuer = issuer();
    TricklingEndpoint trickling = TricklingEndpoint.start(HANG_TIMEOUT.dividedBy(4));
    toClose.push(trickling);
    JwksKeyCache cache = cache(trickling.uri(), HANG_TIMEOUT, REFRESH_AHEAD);
    String kid = issuer.activeKeyId();

    assertThat(rejection(cache, kid)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    // Given up at its deadline although the endpoint still trickles, and the connection is closed.
    pollUntil(() -> !cache.fetchInProgress());
    pollUntil(() -> trickling.openConnectionCount() == 0);
    trickling.heal(issuer.jwksJson());
    clock.advance(INTERVAL);

    assertThat(key(cache, kid)).isEqualTo(issuer.publicKey(kid));
    assertThat(trickling.connectionCount()).isEqualTo(2);
  }

  /**
   * A refresh in the background whose server trickles: given up at its deadline like any fetch, so
   * a later rotation is still picked up.
   */
  @Test
  void key_refreshTrickles_givenUpAndTheNextRefreshLoadsTheRotatedKey() throws Exception {
    TestIssuer issuer = issuer();
    TricklingEndpoint trickling = TricklingEndpoint.start(HANG_TIMEOUT.dividedBy(4));
    toClose.push(trickling);
    trickling.heal(issuer.jwksJson());
    JwksKeyCache cache = cache(trickling.uri(), HANG_TIMEOUT, REFRESH_AHEAD);
    load(cache);
    trickling.trickle();
    String oldKid = issuer.activeKeyId();
    String newKid = issuer.rotate();

    clock.set(START.plusSeconds(3600 - 300)); // refreshAt: a background fetch that trickles
    assertThat(key(cache, oldKid)).isEqualTo(issuer.publicKey(oldKid));
    assertThat(trickling.awaitConnectionCount(2, DEADLINE)).isTrue();
    pollUntil(() -> !cache.fetchInProgress());
    trickling.heal(issuer.jwksJson());
    clock.advance(INTERVAL);

    assertThat(key(cache, newKid)).isEqualTo(issuer.publicKey(newKid));
    assertThat(trickling.connectionCount()).isEqualTo(3);
  }

  @Test
  void key_hangingServerAfterLoad_staleKeysAnsweredAtOnce() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    String kid = issuer.activeKeyId();
    load(cache);
    issuer.jwks().delay(Duration.ofMinutes(1));

    clock.set(START.plusSeconds(4000));
    long begin = System.nanoTime();
    assertThat(key(cache, kid)).isEqualTo(issuer.publicKey(kid));

    // Waiting for the hung refresh would take the whole fetch timeout.
    assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(TIMEOUT.dividedBy(2));
    awaitRequests(issuer, 2);
  }

  @Test
  void key_newSetDropsTheKeyInUse_keyRejectedAsUnknownOnceRefreshed() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    String dropped = issuer.keyIds().get(0);
    String kept = issuer.keyIds().get(1);
    load(cache);
    issuer.unpublish(dropped);

    clock.set(START.plusSeconds(3600 - 300)); // refreshAt
    assertThat(key(cache, dropped)).isEqualTo(issuer.publicKey(dropped)); // old set, at once
    pollUntil(() -> !cache.currentKeySet().keys().containsKey(dropped));

    assertThat(rejection(cache, dropped)).isEqualTo(Reason.UNKNOWN_KEY_ID);
    assertThat(key(cache, kept)).isEqualTo(issuer.publicKey(kept));
    assertThat(issuer.jwks().requestCount()).isEqualTo(2);
  }

  @Test
  void key_chunkedBodyOverTheCap_refusedWhileReading() throws Exception {
    // No Content-Length: the cap must hold while reading, not only up front.
    URI uri =
        serve(
            exchange -> {
              exchange.sendResponseHeaders(200, 0); // chunked
              try (OutputStream out = exchange.getResponseBody()) {
                byte[] spaces = new byte[64 * 1024];
                Arrays.fill(spaces, (byte) ' ');
                for (int i = 0; i < 160; i++) { // 10 MB
                  out.write(spaces);
                }
              } catch (java.io.IOException expected) {
                // The client hung up after the cap: exactly what should happen.
              }
            });
    JwksKeyCache cache = cache(uri, TIMEOUT, REFRESH_AHEAD);

    assertThat(rejection(cache, "any")).isEqualTo(Reason.KEYS_UNAVAILABLE);
    assertThat(cache.currentKeySet()).isNull();
  }

  @Test
  void key_chunkedBodyUnderTheCap_accepted() throws Exception {
    TestIssuer issuer = issuer();
    byte[] jwks = issuer.jwksJson().getBytes(StandardCharsets.UTF_8);
    URI uri =
        serve(
            exchange -> {
              exchange.sendResponseHeaders(200, 0); // chunked
              try (OutputStream out = exchange.getResponseBody()) {
                out.write(jwks);
              }
            });
    JwksKeyCache cache = cache(uri, TIMEOUT, REFRESH_AHEAD);

    String kid = issuer.activeKeyId();
    assertThat(key(cache, kid)).isEqualTo(issuer.publicKey(kid));
  }

  @Test
  void key_connectorIsTheSeam_everyFetchOpensThroughIt() throws Exception {
    TestIssuer issuer = issuer();
    List<URI> opened = new java.util.concurrent.CopyOnWriteArrayList<>();
    // Configured with an address where nothing listens: only the connector can reach the keys.
    JwksKeyCache cache =
        cache(
            URI.create("http://127.0.0.1:1/certs"),
            uri -> {
              opened.add(uri);
              return KeyEndpointConnector.JDK.open(issuer.jwksUri());
            });

    String kid = issuer.activeKeyId();
    assertThat(key(cache, kid)).isEqualTo(issuer.publicKey(kid));
    assertThat(opened).containsExactly(URI.create("http://127.0.0.1:1/certs"));
  }

  @Test
  void key_connectorThrows_keysUnavailableThenLoadsWhenItRecovers() throws Exception {
    TestIssuer issuer = issuer();
    java.util.concurrent.atomic.AtomicBoolean broken =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    JwksKeyCache cache =
        cache(
            issuer.jwksUri(),
            uri -> {
              if (broken.get()) {
                throw new java.io.IOException("proxy refused");
              }
              return KeyEndpointConnector.JDK.open(uri);
            });
    String kid = issuer.activeKeyId();

    assertThat(rejection(cache, kid)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    broken.set(false);
    clock.advance(INTERVAL);

    assertThat(key(cache, kid)).isEqualTo(issuer.publicKey(kid));
  }

  @Test
  void key_redirect_notFollowed() throws Exception {
    TestIssuer issuer = issuer();
    URI uri =
        serve(
            exchange -> {
              exchange.getResponseHeaders().add("Location", issuer.jwksUri().toString());
              exchange.sendResponseHeaders(302, -1);
              exchange.close();
            });
    JwksKeyCache cache = cache(uri, TIMEOUT, REFRESH_AHEAD);

    assertThat(rejection(cache, issuer.activeKeyId())).isEqualTo(Reason.KEYS_UNAVAILABLE);
    assertThat(issuer.jwks().requestCount()).isEqualTo(0);
  }

  @Test
  void key_headerNamesInAnyCase_freshnessRead() throws Exception {
    TestIssuer issuer = issuer();
    byte[] jwks = issuer.jwksJson().getBytes(StandardCharsets.UTF_8);
    URI uri =
        serve(
            exchange -> {
              // The JDK server sends these as "Cache-control" and "Age": not the case the cache
              // asks for, which must not matter (RFC 9110 section 5.1).
              exchange.getResponseHeaders().add("cache-CONTROL", "max-age=7200");
              exchange.getResponseHeaders().add("AGE", "200");
              exchange.sendResponseHeaders(200, jwks.length);
              try (OutputStream out = exchange.getResponseBody()) {
                out.write(jwks);
              }
            });
    JwksKeyCache cache = cache(uri, TIMEOUT, REFRESH_AHEAD);

    load(cache);

    assertThat(cache.currentKeySet().expiresAt()).isEqualTo(START.plusSeconds(7000));
  }

  @Test
  void prefetch_loadsKeysSoTheFirstRequestDoesNotFetch() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);

    cache.prefetch().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    String kid = issuer.activeKeyId();

    assertThat(key(cache, kid)).isEqualTo(issuer.publicKey(kid));
    assertThat(cache.fetchesStarted()).isEqualTo(1);
  }

  @Test
  void prefetch_endpointDown_futureFailsAndRequestsGetKeysUnavailable() throws Exception {
    TestIssuer issuer = issuer();
    issuer.jwks().respondWith(500, "");
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);

    assertThrows(
        ExecutionException.class,
        () -> cache.prefetch().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS));

    assertThat(rejection(cache, issuer.activeKeyId())).isEqualTo(Reason.KEYS_UNAVAILABLE);
  }

  @Test
  void close_stopsFetching() throws Exception {
    TestIssuer issuer = issuer();
    JwksKeyCache cache = cache(issuer.jwksUri(), TIMEOUT, REFRESH_AHEAD);
    String kid = issuer.activeKeyId();
    load(cache);

    cache.close();
    clock.set(START.plusSeconds(3600).plus(STALENESS));

    assertThat(rejection(cache, kid)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    assertThat(cache.fetchesStarted()).isEqualTo(1);
  }

  @Test
  void config_nonPositiveTimeout_refused() {
    assertThrows(
        IllegalArgumentException.class,
        () -> KeyCacheConfig.builder().keyFetchTimeout(Duration.ZERO));
  }

  // ---------------------------------------------------------------------------------------------

  /** A loopback server that answers {@code /certs} with {@code handler}, closed after the test. */
  private URI serve(HttpHandler handler) throws java.io.IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/certs", handler);
    server.start();
    toClose.push(() -> server.stop(0));
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/certs");
  }

  private TestIssuer issuer() {
    TestIssuer issuer = TestIssuer.builder().clock(clock).start();
    toClose.push(issuer);
    return issuer;
  }

  private JwksKeyCache cache(URI jwksUri, Duration timeout, Duration refreshAhead) {
    return cache(jwksUri, KeyEndpointConnector.JDK, timeout, refreshAhead);
  }

  private JwksKeyCache cache(URI jwksUri, KeyEndpointConnector connector) {
    return cache(jwksUri, connector, TIMEOUT, REFRESH_AHEAD);
  }

  private JwksKeyCache cache(
      URI jwksUri, KeyEndpointConnector connector, Duration timeout, Duration refreshAhead) {
    JwksKeyCache cache =
        new JwksKeyCache(
            KeyCacheConfig.builder()
                .jwksUri(jwksUri)
                .connector(connector)
                .clock(clock)
                .keyFetchTimeout(timeout)
                .maxKeySetBytes(MAX_BODY)
                .maxKeyStaleness(STALENESS)
                .keyRefetchInterval(INTERVAL)
                .defaultTtl(DEFAULT_TTL)
                .refreshAhead(refreshAhead)
                .build());
    toClose.push(cache);
    return cache;
  }

  /** Loads the key set as start-up does; the tests of the cold path call key() instead. */
  private static void load(JwksKeyCache cache) throws Exception {
    cache.prefetch().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
  }

  private RSAPublicKey key(JwksKeyCache cache, String kid) throws CallerRejectedException {
    return cache.key(kid, clock.instant());
  }

  private Reason rejection(JwksKeyCache cache, String kid) {
    return assertThrows(CallerRejectedException.class, () -> key(cache, kid)).reason();
  }

  private static void awaitRequests(TestIssuer issuer, int count) throws InterruptedException {
    assertThat(issuer.jwks().awaitRequestCount(count, DEADLINE)).isTrue();
  }

  private static void pollUntil(Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.call()) {
      assertThat(System.nanoTime() - deadline).isLessThan(0L);
      Thread.onSpinWait();
      Thread.yield();
    }
  }

  private static <T> List<T> concurrently(int callers, Callable<T> call) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    try {
      CountDownLatch ready = new CountDownLatch(callers);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<T>> futures = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        futures.add(
            pool.submit(
                () -> {
                  ready.countDown();
                  go.await();
                  return call.call();
                }));
      }
      assertThat(ready.await(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
      go.countDown();
      List<T> results = new ArrayList<>();
      for (Future<T> future : futures) {
        results.add(future.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS));
      }
      return results;
    } finally {
      pool.shutdownNow();
    }
  }
}
