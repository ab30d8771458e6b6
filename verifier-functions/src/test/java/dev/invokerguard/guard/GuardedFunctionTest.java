package dev.invokerguard.guard;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.verifier.CallerRejectedException;
import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.Reason;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import dev.invokerguard.verifier.VerifiedCaller;
import dev.invokerguard.verifier.VerifierSettings;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The HTTP contract of {@link GuardedFunction}. Rejections are driven through the verification seam
 * with every {@link Reason}; allowed calls go through a real {@link CallerVerifier} with a
 * platform-verified token (signature removed by the platform), which needs no key endpoint.
 */
class GuardedFunctionTest {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://fn.example/api";
  private static final String TRACE = "105445aa7843bc8bf206b12000100000";

  private final List<String> logLines = new ArrayList<>();
  private final CallerVerifier verifier =
      CallerVerifier.builder()
          .expectedAudiences(AUDIENCE)
          .allowlist(ServiceAccountAllowlist.of(List.of(ALICE)))
          .trustPlatformVerifiedTokens()
          .build();

  @AfterEach
  void closeVerifier() {
    verifier.close();
  }

  /** A token as Google forwards it after checking and removing its signature. */
  static String platformVerifiedToken(String email, String audience) {
    long now = Instant.now().getEpochSecond();
    JsonObject header = new JsonObject();
    header.addProperty("alg", "RS256");
    header.addProperty("kid", "k1");
    header.addProperty("typ", "JWT");
    JsonObject claims = new JsonObject();
    claims.addProperty("iss", "https://accounts.google.com");
    claims.addProperty("aud", audience);
    claims.addProperty("azp", email);
    claims.addProperty("sub", "104729104729104729104");
    claims.addProperty("email", email);
    claims.addProperty("email_verified", true);
    claims.addProperty("iat", now);
    claims.addProperty("exp", now + 3600);
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    return b64.encodeToString(header.toString().getBytes(StandardCharsets.UTF_8))
        + "."
        + b64.encodeToString(claims.toString().getBytes(StandardCharsets.UTF_8))
        + ".SIGNATURE_REMOVED_BY_GOOGLE";
  }

  private GuardedFunction guard(
      GuardedFunction.Verification verification, ProtectedHandler handler) {
    return new GuardedFunction(
        verification,
        handler,
        new DecisionLog(Optional.of("host-project"), logLines::add),
        Duration.ofSeconds(7));
  }

  private static ProtectedHandler greeting(AtomicReference<VerifiedCaller> seen) {
    return (caller, request, response) -> {
      seen.set(caller);
      response.setContentType("text/plain");
      response.getWriter().write("hello " + caller.principal());
    };
  }

  private static FakeHttp.Response serveAsAlice(GuardedFunction function) throws Exception {
    FakeHttp.Response response = new FakeHttp.Response();
    function.service(
        new FakeHttp.Request("GET", "/")
            .header("Authorization", "Bearer " + platformVerifiedToken(ALICE, AUDIENCE)),
        response);
    return response;
  }

  private JsonObject onlyLogLine() {
    assertThat(logLines).hasSize(1);
    return JsonParser.parseString(logLines.get(0)).getAsJsonObject();
  }

  @ParameterizedTest
  @EnumSource(Reason.class)
  void service_everyRejection_answeredByCategoryOnly(Reason reason) throws Exception {
    AtomicReference<VerifiedCaller> seen = new AtomicReference<>();
    GuardedFunction function =
        guard(
            headers -> {
              throw new CallerRejectedException(reason, "detail that must stay out of the body");
            },
            greeting(seen));
    FakeHttp.Response response = new FakeHttp.Response();

    function.service(new FakeHttp.Request("GET", "/x"), response);

    assertThat(seen.get()).isNull();
    assertThat(response.contentType).isEqualTo("application/json");
    assertThat(response.bodyText()).doesNotContain("detail");
    switch (reason.category()) {
      case NO_CREDENTIALS -> {
        assertThat(response.status).isEqualTo(401);
        assertThat(response.headers.get("WWW-Authenticate")).containsExactly("Bearer");
        assertThat(response.bodyText()).isEqualTo("{\"error\":\"unauthorized\"}");
      }
      case INVALID_TOKEN -> {
        assertThat(response.status).isEqualTo(401);
        assertThat(response.headers.get("WWW-Authenticate"))
            .containsExactly("Bearer error=\"invalid_token\"");
        assertThat(response.bodyText()).isEqualTo("{\"error\":\"invalid_token\"}");
      }
      case FORBIDDEN -> {
        assertThat(response.status).isEqualTo(403);
        assertThat(response.headers).doesNotContainKey("WWW-Authenticate");
        assertThat(response.bodyText()).isEqualTo("{\"error\":\"forbidden\"}");
      }
      case UNAVAILABLE -> {
        assertThat(response.status).isEqualTo(503);
        assertThat(response.headers.get("Retry-After")).containsExactly("7");
        assertThat(response.bodyText()).isEqualTo("{\"error\":\"unavailable\"}");
      }
    }
    JsonObject line = onlyLogLine();
    assertThat(line.get("decision").getAsString()).isEqualTo("deny");
    assertThat(line.get("reason").getAsString()).isEqualTo(reason.name());
    assertThat(line.get("status").getAsInt()).isEqualTo(response.status);
    assertThat(line.get("severity").getAsString())
        .isEqualTo(reason.category() == Reason.Category.UNAVAILABLE ? "ERROR" : "WARNING");
  }

  @Test
  void service_verificationThrowsUnexpectedly_failsClosedWith503AndLogsClassOnly()
      throws Exception {
    AtomicReference<VerifiedCaller> seen = new AtomicReference<>();
    GuardedFunction function =
        guard(
            headers -> {
              throw new IllegalStateException("internal secret state");
            },
            greeting(seen));
    FakeHttp.Response response = new FakeHttp.Response();

    function.service(new FakeHttp.Request("GET", "/x"), response);

    assertThat(seen.get()).isNull();
    assertThat(response.status).isEqualTo(503);
    assertThat(response.headers.get("Retry-After")).containsExactly("7");
    assertThat(response.bodyText()).isEqualTo("{\"error\":\"unavailable\"}");
    JsonObject line = onlyLogLine();
    assertThat(line.get("severity").getAsString()).isEqualTo("ERROR");
    assertThat(line.get("decision").getAsString()).isEqualTo("deny");
    assertThat(line.get("exception").getAsString()).isEqualTo("java.lang.IllegalStateException");
    assertThat(logLines.get(0)).doesNotContain("secret");
  }

  @Test
  void service_allowedCaller_reachesHandlerAndLogsInfo() throws Exception {
    AtomicReference<VerifiedCaller> seen = new AtomicReference<>();
    GuardedFunction function = guard(verifier::verify, greeting(seen));
    String token = platformVerifiedToken(ALICE, AUDIENCE);
    FakeHttp.Response response = new FakeHttp.Response();

    function.service(
        new FakeHttp.Request("POST", "/orders")
            .header("Authorization", "Bearer " + token)
            .header("X-Cloud-Trace-Context", TRACE + "/1;o=1"),
        response);

    assertThat(response.status).isEqualTo(200);
    assertThat(response.bodyText()).isEqualTo("hello " + ALICE);
    assertThat(seen.get().email()).hasValue(ALICE);
    JsonObject line = onlyLogLine();
    assertThat(line.get("severity").getAsString()).isEqualTo("INFO");
    assertThat(line.get("decision").getAsString()).isEqualTo("allow");
    assertThat(line.get("caller").getAsString()).isEqualTo(ALICE);
    assertThat(line.get("subject").getAsString()).isEqualTo("104729104729104729104");
    assertThat(line.get("audience").getAsString()).isEqualTo(AUDIENCE);
    assertThat(line.get("method").getAsString()).isEqualTo("POST");
    assertThat(line.get("path").getAsString()).isEqualTo("/orders");
    assertThat(line.get("logging.googleapis.com/trace").getAsString())
        .isEqualTo("projects/host-project/traces/" + TRACE);
    assertThat(line.get("logging.googleapis.com/spanId").getAsString())
        .isEqualTo("0000000000000001");
    assertThat(line.get("logging.googleapis.com/trace_sampled").getAsBoolean()).isTrue();
    for (String part : token.split("\\.")) {
      assertThat(logLines.get(0)).doesNotContain(part);
    }
  }

  @Test
  void service_projectUnknown_noTraceField() throws Exception {
    GuardedFunction function =
        new GuardedFunction(
            verifier::verify,
            greeting(new AtomicReference<>()),
            new DecisionLog(Optional.empty(), logLines::add),
            Duration.ofSeconds(1));

    function.service(
        new FakeHttp.Request("GET", "/")
            .header("Authorization", "Bearer " + platformVerifiedToken(ALICE, AUDIENCE))
            .header("X-Cloud-Trace-Context", TRACE + "/1;o=1"),
        new FakeHttp.Response());

    assertThat(onlyLogLine().has("logging.googleapis.com/trace")).isFalse();
  }

  @Test
  void service_strangerWithValidToken_forbiddenAndTokenNeverLogged() throws Exception {
    AtomicReference<VerifiedCaller> seen = new AtomicReference<>();
    GuardedFunction function = guard(verifier::verify, greeting(seen));
    String token =
        platformVerifiedToken("stranger@other-project.iam.gserviceaccount.com", AUDIENCE);
    FakeHttp.Response response = new FakeHttp.Response();

    function.service(
        new FakeHttp.Request("GET", "/").header("Authorization", "Bearer " + token), response);

    assertThat(seen.get()).isNull();
    assertThat(response.status).isEqualTo(403);
    assertThat(response.bodyText()).doesNotContain(ALICE);
    assertThat(onlyLogLine().get("reason").getAsString()).isEqualTo("CALLER_NOT_ALLOWED");
    for (String part : token.split("\\.")) {
      assertThat(logLines.get(0)).doesNotContain(part);
    }
  }

  /**
   * Issue 12 item 6: when signature and claims verified and only the allowlist said no, the deny
   * line names the caller (verified email, sub), so an operator can tell who tried. From a token
   * that did not verify, nothing reaches the line, whatever it claims.
   */
  @Test
  void service_signedStrangerDenied_lineNamesVerifiedCaller_unverifiedTokensNameNobody()
      throws Exception {
    String stranger = "stranger@other-project.iam.gserviceaccount.com";
    String unverified = "unverified@other-project.iam.gserviceaccount.com";
    String forger = "forger@other-project.iam.gserviceaccount.com";
    try (TestIssuer issuer = TestIssuer.start();
        CallerVerifier signed =
            CallerVerifier.builder()
                .expectedAudiences(AUDIENCE)
                .allowlist(ServiceAccountAllowlist.of(List.of(ALICE)))
                .jwksUri(issuer.jwksUri())
                .build()) {
      GuardedFunction function = guard(signed::verify, greeting(new AtomicReference<>()));
      String unpublished = issuer.addKey();
      issuer.unpublish(unpublished);
      String[] notVerified = {
        issuer.token().email(forger).audience("https://elsewhere.example").build(),
        issuer.token().email(forger).audience(AUDIENCE).signWithKey(unpublished).build(),
        tamperedSignature(issuer.mint(forger, AUDIENCE)),
      };

      assertThat(send(function, issuer.mint(stranger, AUDIENCE)).status).isEqualTo(403);
      JsonObject line = onlyLogLine();
      assertThat(line.get("reason").getAsString()).isEqualTo("CALLER_NOT_ALLOWED");
      assertThat(line.get("caller").getAsString()).isEqualTo(stranger);
      assertThat(line.get("subject").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(stranger));

      // A verified token whose email is not verified: the subject only.
      logLines.clear();
      String token =
          issuer
              .token()
              .email(unverified)
              .audience(AUDIENCE)
              .claim("email_verified", false)
              .build();
      assertThat(send(function, token).status).isEqualTo(403);
      line = onlyLogLine();
      assertThat(line.get("subject").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(unverified));
      assertThat(line.has("caller")).isFalse();
      assertThat(logLines.get(0)).doesNotContain(unverified);

      for (String bad : notVerified) {
        logLines.clear();
        assertThat(send(function, bad).status).isEqualTo(401);
        assertThat(onlyLogLine().has("caller")).isFalse();
        assertThat(logLines.get(0)).doesNotContain(forger);
        assertThat(logLines.get(0)).doesNotContain(TestIssuer.uniqueIdOf(forger));
      }
    }
  }

  private static String tamperedSignature(String token) {
    char last = token.charAt(token.length() - 2);
    return token.substring(0, token.length() - 2)
        + (last == 'A' ? 'B' : 'A')
        + token.charAt(token.length() - 1);
  }

  private static FakeHttp.Response send(GuardedFunction function, String token) throws Exception {
    FakeHttp.Response response = new FakeHttp.Response();
    function.service(
        new FakeHttp.Request("GET", "/").header("Authorization", "Bearer " + token), response);
    return response;
  }

  @Test
  void service_serverlessHeaderValid_garbageAuthorizationIgnored() throws Exception {
    GuardedFunction function = guard(verifier::verify, greeting(new AtomicReference<>()));
    FakeHttp.Response response = new FakeHttp.Response();

    function.service(
        new FakeHttp.Request("GET", "/")
            .header(
                "X-Serverless-Authorization", "Bearer " + platformVerifiedToken(ALICE, AUDIENCE))
            .header("Authorization", "Bearer garbage"),
        response);

    assertThat(response.status).isEqualTo(200);
  }

  @Test
  void service_serverlessHeaderGarbage_validAuthorizationNotConsulted() throws Exception {
    GuardedFunction function = guard(verifier::verify, greeting(new AtomicReference<>()));
    FakeHttp.Response response = new FakeHttp.Response();

    function.service(
        new FakeHttp.Request("GET", "/")
            .header("X-Serverless-Authorization", "Bearer garbage")
            .header("Authorization", "Bearer " + platformVerifiedToken(ALICE, AUDIENCE)),
        response);

    assertThat(response.status).isEqualTo(401);
    assertThat(response.headers.get("WWW-Authenticate"))
        .containsExactly("Bearer error=\"invalid_token\"");
  }

  @Test
  void service_handlerThrows_internalErrorWithoutDetails() throws Exception {
    GuardedFunction function =
        guard(
            verifier::verify,
            (caller, request, response) -> {
              throw new java.io.IOException("database password is hunter2");
            });
    FakeHttp.Response response = serveAsAlice(function);

    assertThat(response.status).isEqualTo(500);
    assertThat(response.bodyText()).isEqualTo("{\"error\":\"internal\"}");
    assertThat(logLines).hasSize(2);
    JsonObject failure = JsonParser.parseString(logLines.get(1)).getAsJsonObject();
    assertThat(failure.get("severity").getAsString()).isEqualTo("ERROR");
    assertThat(failure.has("decision")).isFalse();
    assertThat(failure.get("exception").getAsString()).isEqualTo("java.io.IOException");
    assertThat(String.join("\n", logLines)).doesNotContain("hunter2");
  }

  @Test
  void service_handlerThrowsAfterWriting_noSecondFailure() throws Exception {
    GuardedFunction function =
        guard(
            verifier::verify,
            (caller, request, response) -> {
              response.getWriter().write("partial");
              throw new IllegalArgumentException("boom");
            });
    FakeHttp.Response response = serveAsAlice(function);

    assertThat(response.status).isEqualTo(500);
    assertThat(response.bodyText()).doesNotContain("boom");
  }

  @Test
  void protect_realVerifierNoCredentials_bareBearerChallenge() throws Exception {
    GuardedFunction function = GuardedFunction.protect(verifier, greeting(new AtomicReference<>()));
    FakeHttp.Response response = new FakeHttp.Response();

    function.service(new FakeHttp.Request("GET", "/"), response);

    assertThat(response.status).isEqualTo(401);
    assertThat(response.headers.get("WWW-Authenticate")).containsExactly("Bearer");
  }

  @Test
  void protect_keyEndpointDownAtStartup_logsOneUnusableKeyHealthLineWithoutBlocking()
      throws Exception {
    GuardConfig config =
        GuardConfig.fromEnvironment(
            java.util.Map.of(
                "ALLOWED_INVOKERS",
                ALICE,
                "EXPECTED_AUDIENCES",
                AUDIENCE,
                // Port 1 on loopback: nothing listens, the fetch fails at once.
                "JWKS_URL",
                "http://127.0.0.1:1/oauth2/v3/certs",
                "KEY_FETCH_TIMEOUT_SECONDS",
                "1"));
    List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.concurrent.CountDownLatch logged = new java.util.concurrent.CountDownLatch(1);

    GuardedFunction.protect(
        config,
        greeting(new AtomicReference<>()),
        new DecisionLog(
            Optional.empty(),
            line -> {
              lines.add(line);
              logged.countDown();
            }));

    assertThat(logged.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(lines).hasSize(1);
    JsonObject line = JsonParser.parseString(lines.get(0)).getAsJsonObject();
    assertThat(line.get("keyHealth").getAsString()).isEqualTo("UNUSABLE");
    assertThat(line.get("severity").getAsString()).isEqualTo("ERROR");
    assertThat(line.get("jwksUri").getAsString()).isEqualTo("http://127.0.0.1:1/oauth2/v3/certs");
    assertThat(line.get("fetchOutcome").getAsString()).isEqualTo("IO_ERROR");
    assertThat(line.get("exception").getAsString()).isEqualTo("java.net.ConnectException");
    assertThat(line.get("usableForSeconds").getAsLong()).isEqualTo(0);
    assertThat(line.get("message").getAsString()).startsWith("signing keys: none usable");
    assertThat(line.has("decision")).isFalse();
    assertThat(line.has("keyCount")).isFalse();
  }

  @Test
  void stats_protectedVerifier_countsTheGuardsDecisions() throws Exception {
    GuardedFunction function = GuardedFunction.protect(verifier, greeting(new AtomicReference<>()));

    serveAsAlice(function);
    serveAsAlice(function);
    function.service(new FakeHttp.Request("GET", "/"), new FakeHttp.Response());

    assertThat(function.stats().allowed()).isEqualTo(2);
    assertThat(function.stats().rejected().get(Reason.MISSING_CREDENTIALS)).isEqualTo(1);
    assertThat(function.stats().decisions()).isEqualTo(3);
  }

  @Test
  void service_longPath_shortenedInLog() throws Exception {
    GuardedFunction function = guard(verifier::verify, greeting(new AtomicReference<>()));

    function.service(new FakeHttp.Request("GET", "/" + "a".repeat(5000)), new FakeHttp.Response());

    assertThat(onlyLogLine().get("path").getAsString().length()).isLessThan(300);
  }

  /**
   * Issue 21 "Also fix": {@link GuardedFunction#protect(CallerVerifier, ProtectedHandler)} answers
   * a 503 with the verifier's own refetch interval, not the default one.
   */
  @Test
  void protect_verifier_retryAfterIsTheVerifiersOwnRefetchInterval() throws Exception {
    try (TestIssuer issuer = TestIssuer.start();
        CallerVerifier own =
            CallerVerifier.builder()
                .expectedAudiences(AUDIENCE)
                .allowlist(ServiceAccountAllowlist.of(List.of(ALICE)))
                .jwksUri(issuer.jwksUri())
                .keyFetchTimeout(Duration.ofSeconds(2))
                .keyRefetchInterval(Duration.ofSeconds(37))
                .keyHealthListener(event -> {})
                .build()) {
      issuer.jwks().respondWith(503, ""); // no key set can be loaded
      assertThat(own.keyRefetchInterval()).isEqualTo(Duration.ofSeconds(37));
      GuardedFunction function = GuardedFunction.protect(own, greeting(new AtomicReference<>()));
      FakeHttp.Response response = new FakeHttp.Response();

      function.service(
          new FakeHttp.Request("GET", "/")
              .header("Authorization", "Bearer " + issuer.mint(ALICE, AUDIENCE)),
          response);

      assertThat(response.status()).isEqualTo(503);
      assertThat(response.headers.get("Retry-After")).containsExactly("37");
      assertThat(Duration.ofSeconds(37))
          .isNotEqualTo(VerifierSettings.KEY_REFETCH_INTERVAL.defaultValue());
    }
  }
}
