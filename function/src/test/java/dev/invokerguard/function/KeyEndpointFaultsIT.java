package dev.invokerguard.function;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.testing.TricklingEndpoint;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The key endpoint misbehaves on cue ({@link TestIssuer#jwks()}) while the deployable jar runs in
 * the real Functions Framework invoker: the status codes callers get, how long they wait, and how
 * often the endpoint is asked. The function runs with {@code KEY_FETCH_TIMEOUT_SECONDS=1} and
 * {@code KEY_REFETCH_INTERVAL_SECONDS=1} so that recovery takes seconds; the issuer says {@code
 * max-age=1}, so the function refreshes its keys about once a second while requests come.
 *
 * <p>Down at start, then recovery without a restart, is {@link KeysUnavailableIT}. The stale bound
 * (cached keys verify until {@code maxKeyStaleness} past expiry, then 503) needs a controlled clock
 * and is tested on the key cache: {@code
 * JwksKeyCacheTest#key_duringOutage_servesLastGoodSetUntilStalenessBoundThenUnavailableThenRecovers}.
 */
class KeyEndpointFaultsIT {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";
  private static final Duration FETCH_TIMEOUT = Duration.ofSeconds(1);

  /**
   * What a request may take beyond the fetch timeout on a busy two-core machine. Generous on
   * purpose: the bound only has to tell "answered at the fetch deadline" from "waited on the
   * endpoint", which hangs for minutes or trickles forever; 1.5 s once failed under three parallel
   * builds.
   */
  private static final Duration SLACK = Duration.ofSeconds(4);

  private static final Duration DEADLINE = Duration.ofSeconds(30);

  /**
   * One function, cold: every kind of bad key set answered 503 with {@code Retry-After} (never a
   * 401 that blames the caller) and none of them loaded; then the real set loads without a restart;
   * then, with keys loaded, outages and hangs are answered from the cached keys; a set that drops
   * the key in use rejects its tokens; rotation to a new key is picked up.
   */
  @Test
  void badKeySetsThenRecoveryThenOutagesRotationAndDroppedKey() throws Exception {
    try (TestIssuer issuer = TestIssuer.builder().maxAgeSeconds(1).start()) {
      // Failing before the function starts, so its start-up prefetch loads nothing.
      issuer.jwks().respondWith(500, "{\"error\":\"x\"}");
      try (RunningFunction function = start(issuer)) {
        coldFaultsThenRecoveryThenOutagesRotationAndDroppedKey(issuer, function);
      }
    }
  }

  private static void coldFaultsThenRecoveryThenOutagesRotationAndDroppedKey(
      TestIssuer issuer, RunningFunction function) throws Exception {
    String audience = RunningFunction.audience(function.port);
    String token = issuer.mint(ALICE, audience);

    // ---- no key set loaded yet: every bad answer of the endpoint is a 503 ----
    byte[] tenMegabytes = new byte[10 * 1024 * 1024];
    Arrays.fill(tenMegabytes, (byte) ' ');
    byte[] keySet = issuer.jwksJson().getBytes(StandardCharsets.UTF_8);
    System.arraycopy(keySet, 0, tenMegabytes, 0, keySet.length);
    String[] faults = {"500", "503", "404", "garbage", "empty key set", "10 MB body"};
    for (String fault : faults) {
      switch (fault) {
        case "garbage" -> issuer.jwks().respondWith(200, "<html>not a key set</html>");
        case "empty key set" -> issuer.jwks().respondWith(200, "{\"keys\":[]}");
        // A real key set padded to 10 MB: valid JSON, refused for its size alone.
        case "10 MB body" -> issuer.jwks().respondWithBytes(200, tenMegabytes);
        default -> issuer.jwks().respondWith(Integer.parseInt(fault), "{\"error\":\"x\"}");
      }
      int before = issuer.jwks().requestCount();
      // Two more fetches: the second certainly saw this fault (the first may have begun before
      // the switch). Each request that comes meanwhile must be a 503.
      Instant deadline = Instant.now().plus(DEADLINE);
      while (issuer.jwks().requestCount() < before + 2 && Instant.now().isBefore(deadline)) {
        assertUnavailable(function.send(bearer(function, token)), fault);
      }
      assertThat(issuer.jwks().requestCount()).isAtLeast(before + 2);
      assertUnavailable(function.send(bearer(function, token)), fault);
    }
    assertThat(function.jvm.isAlive()).isTrue();

    // ---- the endpoint recovers: 200 without a restart ----
    issuer.jwks().respondNormally();
    assertThat(statusEventually(function, token, 200)).isEqualTo(200);

    // ---- down after keys were loaded: cached keys keep verifying, at once ----
    for (String outage : new String[] {"503", "hang"}) {
      if (outage.equals("hang")) {
        issuer.jwks().respondNormally().delay(Duration.ofMinutes(5));
      } else {
        issuer.jwks().respondWith(503, "");
      }
      int before = issuer.jwks().requestCount();
      Instant deadline = Instant.now().plus(DEADLINE);
      Duration slowest = Duration.ZERO;
      while (issuer.jwks().requestCount() < before + 2 && Instant.now().isBefore(deadline)) {
        Instant sent = Instant.now();
        HttpResponse<String> response = function.send(bearer(function, token));
        slowest = max(slowest, Duration.between(sent, Instant.now()));
        assertThat(response.statusCode()).isEqualTo(200);
      }
      assertThat(issuer.jwks().requestCount()).isAtLeast(before + 2);
      // The refresh runs in the background: no request waits for the failing endpoint.
      assertThat(slowest).isLessThan(FETCH_TIMEOUT);
    }
    issuer.jwks().respondNormally();

    // ---- rotation: a token signed with a new key passes once the set is refetched ----
    String oldKid = issuer.activeKeyId();
    issuer.rotate();
    String rotated = issuer.mint(ALICE, audience);
    assertThat(statusEventually(function, rotated, 200)).isEqualTo(200);
    assertThat(function.send(bearer(function, token)).statusCode()).isEqualTo(200);

    // ---- the set drops the key in use: its tokens become invalid (401), others still pass ----
    issuer.unpublish(oldKid);
    HttpResponse<String> dropped = null;
    Instant deadline = Instant.now().plus(DEADLINE);
    while (Instant.now().isBefore(deadline)) {
      dropped = function.send(bearer(function, token));
      if (dropped.statusCode() != 200) {
        break;
      }
      function.jvm.exitedWithin(Duration.ofMillis(100)); // pause between polls
    }
    assertThat(dropped.statusCode()).isEqualTo(401);
    assertThat(dropped.headers().firstValue("WWW-Authenticate"))
        .hasValue("Bearer error=\"invalid_token\"");
    assertThat(function.send(bearer(function, rotated)).statusCode()).isEqualTo(200);
    assertThat(function.jvm.stdout()).contains("\"reason\":\"UNKNOWN_KEY_ID\"");

    // Key health, one line per change however many requests came meanwhile: unusable while cold
    // (every kind of bad answer is one run of failures), recovered; then the outages with keys
    // loaded (503, then hang: one run) fail a fetch, outlive the 1 s lifetime, and recover.
    assertThat(function.keyHealthStates())
        .containsExactly("UNUSABLE", "RECOVERED", "FETCH_FAILED", "STALE_IN_USE", "RECOVERED")
        .inOrder();
    assertThat(function.keyHealthLines().get(2).get("fetchOutcome").getAsString())
        .isEqualTo("HTTP_STATUS");
  }

  /**
   * A key endpoint that hangs from the start: 32 concurrent requests are each answered 503 within
   * the fetch timeout (measured), the endpoint sees one fetch for all of them, not one each; later
   * requests start at most one fetch per refetch interval; and once the endpoint answers, the
   * function serves without a restart.
   */
  @Test
  void hangingEndpoint_requestsBoundedByTimeout_fetchesDoNotPileUp_thenRecovers() throws Exception {
    try (TestIssuer issuer = TestIssuer.builder().maxAgeSeconds(1).start()) {
      issuer.jwks().delay(Duration.ofMinutes(5));
      try (RunningFunction function = start(issuer)) {
        String token = issuer.mint(ALICE, RunningFunction.audience(function.port));
        // The start-up prefetch is the first fetch, hanging; wait for it so the burst joins it.
        assertThat(issuer.jwks().awaitRequestCount(1, DEADLINE)).isTrue();

        ExecutorService pool = Executors.newFixedThreadPool(32);
        Instant burstStart = Instant.now();
        List<Future<Duration>> answers = new ArrayList<>();
        try {
          for (int i = 0; i < 32; i++) {
            answers.add(pool.submit(timed(function, token)));
          }
          Duration slowest = Duration.ZERO;
          for (Future<Duration> answer : answers) {
            slowest = max(slowest, answer.get());
          }
          Duration burst = Duration.between(burstStart, Instant.now());
          assertThat(slowest).isLessThan(FETCH_TIMEOUT.plus(SLACK));
          // One fetch in flight serves everyone; at most one more may start per second.
          assertThat(issuer.jwks().requestCount()).isAtMost(2 + (int) burst.toSeconds());

          // Sequential requests for a while: still bounded, still no pile-up.
          Instant start = Instant.now();
          int countAtStart = issuer.jwks().requestCount();
          while (Duration.between(start, Instant.now()).compareTo(Duration.ofSeconds(4)) < 0) {
            assertThat(pool.submit(timed(function, token)).get())
                .isLessThan(FETCH_TIMEOUT.plus(SLACK));
          }
          long seconds = Duration.between(start, Instant.now()).toSeconds();
          assertThat(issuer.jwks().requestCount() - countAtStart).isAtMost((int) seconds + 2);
        } finally {
          pool.shutdownNow();
        }

        issuer.jwks().respondNormally();
        assertThat(statusEventually(function, token, 200)).isEqualTo(200);
      }
    }
  }

  /**
   * Issue 12 item 2, through the real invoker: an endpoint that sends {@code 200 OK} and then one
   * header byte every 300 ms (under the 1 s read timeout, so the read timeout never fires) gets the
   * first request a 503 within the fetch timeout; once the endpoint heals, the function serves
   * without a restart, because the trickling fetch was given up at its deadline.
   */
  @Test
  void tricklingEndpoint_requestUnavailableWithinTimeout_thenRecoversOnceHealed() throws Exception {
    try (TestIssuer issuer = TestIssuer.builder().start();
        TricklingEndpoint trickling = TricklingEndpoint.start(Duration.ofMillis(300))) {
      try (RunningFunction function = start(issuer, trickling.uri().toString())) {
        String token = issuer.mint(ALICE, RunningFunction.audience(function.port));
        assertThat(trickling.awaitConnectionCount(1, DEADLINE)).isTrue(); // start-up prefetch

        assertThat(timed(function, token).call()).isLessThan(FETCH_TIMEOUT.plus(SLACK));
        trickling.heal(issuer.jwksJson());

        assertThat(statusEventually(function, token, 200)).isEqualTo(200);
        JsonObject unusable = function.keyHealthLines().get(0);
        assertThat(unusable.get("keyHealth").getAsString()).isEqualTo("UNUSABLE");
        assertThat(unusable.get("fetchOutcome").getAsString()).isEqualTo("TIMEOUT");
        assertThat(unusable.get("message").getAsString()).contains("given up");
        assertThat(function.keyHealthStates()).containsExactly("UNUSABLE", "RECOVERED").inOrder();
      }
    }
  }

  /**
   * Issue 12 item 3, through the real invoker: keys loaded, then the signer rotates while the
   * endpoint answers 503. The new key's token was not judged, so 503 with {@code Retry-After}
   * (never a 401 a client would not retry) while tokens of the cached key still pass; once the
   * endpoint recovers, the new token passes.
   */
  @Test
  void newKeyDuringOutage_unavailableNotInvalid_thenAcceptedOnceEndpointRecovers()
      throws Exception {
    try (TestIssuer issuer = TestIssuer.builder().start();
        RunningFunction function = start(issuer)) {
      String audience = RunningFunction.audience(function.port);
      String token = issuer.mint(ALICE, audience);
      assertThat(statusEventually(function, token, 200)).isEqualTo(200);

      issuer.jwks().respondWith(503, "");
      issuer.rotate();
      String rotated = issuer.mint(ALICE, audience);
      int before = issuer.jwks().requestCount();
      Instant deadline = Instant.now().plus(DEADLINE);
      // Within the refetch interval after the last good fetch, a set fetched successfully lacks
      // the kid: 401 by design (a made-up kid stays cheap). Once a refetch was tried, and failed,
      // the token is not judged: 503 from then on.
      while (issuer.jwks().requestCount() < before + 1 && Instant.now().isBefore(deadline)) {
        assertThat(function.send(bearer(function, rotated)).statusCode()).isAnyOf(401, 503);
      }
      while (issuer.jwks().requestCount() < before + 3 && Instant.now().isBefore(deadline)) {
        assertUnavailable(function.send(bearer(function, rotated)), "new key during outage");
      }
      assertThat(issuer.jwks().requestCount()).isAtLeast(before + 3);
      assertUnavailable(function.send(bearer(function, rotated)), "new key during outage");
      assertThat(function.send(bearer(function, token)).statusCode()).isEqualTo(200);

      issuer.jwks().respondNormally();
      assertThat(statusEventually(function, rotated, 200)).isEqualTo(200);
    }
  }

  private static RunningFunction start(TestIssuer issuer) {
    return start(issuer, issuer.jwksUri().toString());
  }

  private static RunningFunction start(TestIssuer issuer, String jwksUrl) {
    int port = ChildJvm.freePort();
    return RunningFunction.start(
        port,
        Map.of(
            "ALLOWED_INVOKERS",
            ALICE,
            "EXPECTED_AUDIENCES",
            RunningFunction.audience(port),
            "JWKS_URL",
            jwksUrl,
            "TOKEN_ISSUERS",
            issuer.issuer(),
            "KEY_FETCH_TIMEOUT_SECONDS",
            Long.toString(FETCH_TIMEOUT.toSeconds()),
            "KEY_REFETCH_INTERVAL_SECONDS",
            "1"));
  }

  /** One request that must be a 503 with Retry-After; returns how long it took. */
  private static Callable<Duration> timed(RunningFunction function, String token) {
    return () -> {
      Instant sent = Instant.now();
      HttpResponse<String> response = function.send(bearer(function, token));
      Duration took = Duration.between(sent, Instant.now());
      assertUnavailable(response, "hang");
      return took;
    };
  }

  private static void assertUnavailable(HttpResponse<String> response, String fault) {
    assertWithMessage("status during %s", fault).that(response.statusCode()).isEqualTo(503);
    assertThat(response.headers().firstValue("Retry-After")).hasValue("1");
    assertThat(response.headers().firstValue("WWW-Authenticate")).isEmpty();
  }

  /** Polls until the status is {@code wanted} or the deadline passes; returns the last status. */
  private static int statusEventually(RunningFunction function, String token, int wanted)
      throws Exception {
    Instant deadline = Instant.now().plus(DEADLINE);
    int status;
    do {
      status = function.send(bearer(function, token)).statusCode();
      if (status == wanted || function.jvm.exitedWithin(Duration.ofMillis(100))) {
        break;
      }
    } while (Instant.now().isBefore(deadline));
    return status;
  }

  private static HttpRequest.Builder bearer(RunningFunction function, String token) {
    return function.get("/").header("Authorization", "Bearer " + token);
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }
}
