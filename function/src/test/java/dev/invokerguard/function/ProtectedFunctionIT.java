package dev.invokerguard.function;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.TestIssuer;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Every row of the HTTP contract, against the deployable jar in the real Functions Framework
 * invoker (one child JVM for the whole class), with a {@link TestIssuer} standing in for Google.
 * The last test reads the child's output: one decision line per request, and no token anywhere.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProtectedFunctionIT {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";
  private static final String ID_ONLY = "batch@caller-project.iam.gserviceaccount.com";
  private static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";
  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

  private static TestIssuer issuer;
  private static RunningFunction function;
  private static String audience;
  private static String unpublishedKid;

  /** Every token sent, to prove none of them reached a log. */
  private static final Set<String> tokensSent = ConcurrentHashMap.newKeySet();

  private static final AtomicInteger requestsSent = new AtomicInteger();

  @BeforeAll
  static void startFunction() {
    issuer = TestIssuer.start();
    unpublishedKid = issuer.addKey();
    issuer.unpublish(unpublishedKid);
    int port = ChildJvm.freePort();
    audience = RunningFunction.audience(port);
    function =
        RunningFunction.start(
            port,
            Map.of(
                "ALLOWED_INVOKERS",
                ALICE + ", " + TestIssuer.uniqueIdOf(ID_ONLY),
                "EXPECTED_AUDIENCES",
                audience,
                "JWKS_URL",
                issuer.jwksUri().toString(),
                "TOKEN_ISSUERS",
                issuer.issuer(),
                "KEY_FETCH_TIMEOUT_SECONDS",
                "2",
                "KEY_REFETCH_INTERVAL_SECONDS",
                "1",
                "GOOGLE_CLOUD_PROJECT",
                "it-project"));
  }

  @AfterAll
  static void stopFunction() {
    if (function != null) {
      function.close();
    }
    if (issuer != null) {
      issuer.close();
    }
  }

  private static HttpResponse<String> call(HttpRequest.Builder request) throws Exception {
    requestsSent.incrementAndGet();
    return function.send(request);
  }

  private static HttpResponse<String> getWith(String header, String value) throws Exception {
    if (value.startsWith("Bearer ")) {
      tokensSent.add(value.substring("Bearer ".length()));
    }
    return call(function.get("/").header(header, value));
  }

  /** Sends {@code request} with a fresh valid token of {@code email}. */
  private static HttpResponse<String> callAs(String email, HttpRequest.Builder request)
      throws Exception {
    String token = issuer.mint(email, audience);
    tokensSent.add(token);
    return call(request.header("Authorization", "Bearer " + token));
  }

  private static HttpRequest.Builder post(String path, String body) {
    return HttpRequest.newBuilder(function.uri(path))
        .header("Content-Type", "application/json")
        .POST(BodyPublishers.ofString(body));
  }

  private static HttpResponse<String> getWithToken(String token) throws Exception {
    return getWith("Authorization", "Bearer " + token);
  }

  private static JsonObject json(HttpResponse<String> response) {
    assertThat(response.headers().firstValue("Content-Type").orElse(""))
        .startsWith("application/json");
    return JsonParser.parseString(response.body()).getAsJsonObject();
  }

  private static void assertInvalidToken(HttpResponse<String> response) {
    assertThat(response.statusCode()).isEqualTo(401);
    assertThat(response.headers().allValues("WWW-Authenticate"))
        .containsExactly("Bearer error=\"invalid_token\"");
    assertThat(json(response).get("error").getAsString()).isEqualTo("invalid_token");
  }

  private static PrivateKey otherPrivateKey() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    return generator.generateKeyPair().getPrivate();
  }

  @Test
  void noCredentials_401WithBareBearerChallenge() throws Exception {
    HttpResponse<String> response = call(function.get("/"));

    assertThat(response.statusCode()).isEqualTo(401);
    assertThat(response.headers().allValues("WWW-Authenticate")).containsExactly("Bearer");
    assertThat(json(response).get("error").getAsString()).isEqualTo("unauthorized");
  }

  @Test
  void basicScheme_401WithBareBearerChallenge() throws Exception {
    HttpResponse<String> response = getWith("Authorization", "Basic YWxpY2U6cGFzc3dvcmQ=");

    assertThat(response.statusCode()).isEqualTo(401);
    assertThat(response.headers().allValues("WWW-Authenticate")).containsExactly("Bearer");
  }

  @Test
  void malformedToken_401InvalidToken() throws Exception {
    assertInvalidToken(getWithToken("not-a-jwt"));
  }

  @Test
  void expiredToken_401InvalidToken() throws Exception {
    Instant now = Instant.now();
    assertInvalidToken(
        getWithToken(
            issuer
                .token()
                .email(ALICE)
                .audience(audience)
                .issuedAt(now.minusSeconds(7200))
                .expiresAt(now.minusSeconds(3600))
                .build()));
  }

  @Test
  void wrongAudience_401InvalidToken() throws Exception {
    assertInvalidToken(getWithToken(issuer.mint(ALICE, audience + "/other")));
  }

  @Test
  void audiencePrefix_401InvalidToken() throws Exception {
    assertInvalidToken(
        getWithToken(issuer.mint(ALICE, audience.substring(0, audience.length() - 1))));
  }

  @Test
  void wrongIssuer_401InvalidToken() throws Exception {
    assertInvalidToken(
        getWithToken(
            issuer.token().email(ALICE).audience(audience).issuer("https://evil.test").build()));
  }

  @Test
  void signatureFromAnotherKeyUnderKnownKid_401InvalidToken() throws Exception {
    assertInvalidToken(
        getWithToken(
            issuer.token().email(ALICE).audience(audience).signWith(otherPrivateKey()).build()));
  }

  @Test
  void unknownKeyId_401InvalidToken() throws Exception {
    assertInvalidToken(
        getWithToken(
            issuer.token().email(ALICE).audience(audience).signWithKey(unpublishedKid).build()));
  }

  @Test
  void algNone_401InvalidToken() throws Exception {
    assertInvalidToken(
        getWithToken(
            issuer
                .token()
                .email(ALICE)
                .audience(audience)
                .header("alg", "none")
                .signature("")
                .build()));
  }

  @Test
  void platformStrippedSignatureNotTrusted_401InvalidToken() throws Exception {
    assertInvalidToken(
        getWithToken(
            issuer
                .token()
                .email(ALICE)
                .audience(audience)
                .signature("SIGNATURE_REMOVED_BY_GOOGLE")
                .build()));
  }

  @Test
  void strangerWithValidToken_403() throws Exception {
    HttpResponse<String> response = getWithToken(issuer.mint(STRANGER, audience));

    assertThat(response.statusCode()).isEqualTo(403);
    assertThat(response.headers().firstValue("WWW-Authenticate")).isEmpty();
    assertThat(json(response).get("error").getAsString()).isEqualTo("forbidden");
    assertThat(response.body()).doesNotContain(ALICE);
  }

  @Test
  void allowlistedEmailNotVerified_403() throws Exception {
    HttpResponse<String> response =
        getWithToken(
            issuer.token().email(ALICE).audience(audience).claim("email_verified", false).build());

    assertThat(response.statusCode()).isEqualTo(403);
    assertThat(json(response).get("error").getAsString()).isEqualTo("forbidden");
  }

  @Test
  void allowedCaller_200NamingTheCaller() throws Exception {
    HttpResponse<String> response = getWithToken(issuer.mint(ALICE, audience));

    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject body = json(response);
    assertThat(body.get("caller").getAsString()).isEqualTo(ALICE);
    assertThat(body.get("subject").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(ALICE));
    assertThat(body.get("audience").getAsString()).isEqualTo(audience);
    assertThat(body.get("signatureCheck").getAsString()).isEqualTo("VERIFIED");
    assertThat(body.get("tokenHeader").getAsString()).isEqualTo("Authorization");
    assertThat(body.get("tokenSignature").getAsString()).isEqualTo("intact");
    assertThat(body.get("serverlessHeader").getAsString()).isEqualTo("absent");
    assertThat(body.get("greeting").getAsString()).isEqualTo("Hello, " + ALICE + "!");
    assertThat(Instant.parse(body.get("serverTime").getAsString())).isNotNull();
  }

  @Test
  void allowedByUniqueIdWithoutEmail_200NamingTheId() throws Exception {
    HttpResponse<String> response =
        getWithToken(issuer.token().email(ID_ONLY).withoutEmail().audience(audience).build());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(json(response).get("caller").getAsString())
        .isEqualTo(TestIssuer.uniqueIdOf(ID_ONLY));
  }

  @Test
  void serverlessHeaderValid_garbageAuthorization_200() throws Exception {
    String token = issuer.mint(ALICE, audience);
    tokensSent.add(token);

    HttpResponse<String> response =
        call(
            function
                .get("/")
                .header("X-Serverless-Authorization", "Bearer " + token)
                .header("Authorization", "Bearer garbage"));

    assertThat(response.statusCode()).isEqualTo(200);
  }

  @Test
  void serverlessHeaderGarbage_validAuthorization_401() throws Exception {
    String token = issuer.mint(ALICE, audience);
    tokensSent.add(token);

    HttpResponse<String> response =
        call(
            function
                .get("/")
                .header("X-Serverless-Authorization", "Bearer garbage")
                .header("Authorization", "Bearer " + token));

    assertInvalidToken(response);
  }

  /**
   * Sends {@code strippedOf}'s token as Google forwards it in X-Serverless-Authorization (signature
   * removed) and a fresh valid token of {@code copyOf} in Authorization.
   */
  private static HttpResponse<String> callStrippedWithCopy(String strippedOf, String copyOf)
      throws Exception {
    String stripped =
        issuer
            .token()
            .email(strippedOf)
            .audience(audience)
            .signature("SIGNATURE_REMOVED_BY_GOOGLE")
            .build();
    String copy = issuer.mint(copyOf, audience);
    tokensSent.add(stripped);
    tokensSent.add(copy);
    HttpResponse<String> response =
        call(
            function
                .get("/")
                .header("X-Serverless-Authorization", "Bearer " + stripped)
                .header("Authorization", "Bearer " + copy));
    assertThat(response.body()).doesNotContain(copy);
    return response;
  }

  /** docs/FUNCTION.md, "Both headers": the copy in Authorization is verified and decides. */
  @Test
  void strippedServerlessHeader_sameCallersCopyInAuthorization_200Verified() throws Exception {
    HttpResponse<String> response = callStrippedWithCopy(ALICE, ALICE);

    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject body = json(response);
    assertThat(body.get("caller").getAsString()).isEqualTo(ALICE);
    assertThat(body.get("signatureCheck").getAsString()).isEqualTo("VERIFIED");
    // docs/FUNCTION.md, "Which header": what the guard saw, without a token.
    assertThat(body.get("tokenHeader").getAsString()).isEqualTo("Authorization");
    assertThat(body.get("tokenSignature").getAsString()).isEqualTo("intact");
    assertThat(body.get("serverlessHeader").getAsString()).isEqualTo("stripped");
  }

  @Test
  void strippedServerlessHeader_anotherCallersCopyInAuthorization_401() throws Exception {
    HttpResponse<String> response = callStrippedWithCopy(ID_ONLY, ALICE);

    assertInvalidToken(response);
    assertThat(response.body()).doesNotContain(ALICE);
    JsonObject body = json(response);
    assertThat(body.get("tokenHeader").getAsString()).isEqualTo("Authorization");
    assertThat(body.get("serverlessHeader").getAsString()).isEqualTo("stripped");
  }

  @Test
  void postJsonObject_200DescribingWhatArrived() throws Exception {
    HttpResponse<String> response = callAs(ALICE, post("/orders", "{\"b\":1,\"a\":[2,3]}"));

    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject received = json(response).getAsJsonObject("received");
    assertThat(received.get("bytes").getAsInt()).isEqualTo(17);
    assertThat(received.get("keys").toString()).isEqualTo("[\"a\",\"b\"]");
  }

  @Test
  void postOverTheCap_413() throws Exception {
    HttpResponse<String> response =
        callAs(ALICE, post("/", "{\"k\":\"" + "x".repeat(70_000) + "\"}"));

    assertThat(response.statusCode()).isEqualTo(413);
  }

  @Test
  void postNotAnObject_400() throws Exception {
    HttpResponse<String> response = callAs(ALICE, post("/", "[1,2]"));

    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(json(response).get("error").getAsString()).isEqualTo("expected_json_object");
  }

  @Test
  void deleteByAllowedCaller_405() throws Exception {
    HttpResponse<String> response =
        callAs(ALICE, HttpRequest.newBuilder(function.uri("/")).DELETE());

    assertThat(response.statusCode()).isEqualTo(405);
    assertThat(response.headers().firstValue("Allow")).hasValue("GET, POST");
  }

  @Test
  @Order(Integer.MAX_VALUE)
  void logs_oneDecisionLinePerRequest_traceLinked_noTokenAnywhere() throws Exception {
    HttpResponse<String> traced =
        callAs(
            ALICE, function.get("/traced").header("X-Cloud-Trace-Context", TRACE_ID + "/123;o=1"));
    assertThat(traced.statusCode()).isEqualTo(200);

    String stdout = function.jvm.stdout();
    String everything = stdout + function.jvm.stderr();
    List<JsonObject> decisions =
        stdout
            .lines()
            .filter(line -> line.startsWith("{"))
            .map(line -> JsonParser.parseString(line).getAsJsonObject())
            .filter(line -> line.has("decision"))
            .toList();
    assertThat(decisions).hasSize(requestsSent.get());
    JsonObject tracedLine =
        decisions.stream()
            .filter(line -> line.get("path").getAsString().equals("/traced"))
            .findFirst()
            .orElseThrow();
    assertThat(tracedLine.get("severity").getAsString()).isEqualTo("INFO");
    assertThat(tracedLine.get("caller").getAsString()).isEqualTo(ALICE);
    assertThat(tracedLine.get("logging.googleapis.com/trace").getAsString())
        .isEqualTo("projects/it-project/traces/" + TRACE_ID);
    // The allowlist's refusal of a signed token names the caller (issue 12 item 6).
    JsonObject strangerLine =
        decisions.stream()
            .filter(line -> line.get("reason").getAsString().equals("CALLER_NOT_ALLOWED"))
            .findFirst()
            .orElseThrow();
    assertThat(strangerLine.get("caller").getAsString()).isEqualTo(STRANGER);
    assertThat(strangerLine.get("subject").getAsString())
        .isEqualTo(TestIssuer.uniqueIdOf(STRANGER));
    assertThat(tokensSent).isNotEmpty();
    for (String sent : tokensSent) {
      String[] parts = sent.split("\\.", -1);
      assertThat(everything).doesNotContain(sent);
      if (parts.length == 3 && parts[2].length() > 20) {
        assertThat(everything).doesNotContain(parts[2]); // the signature
      }
    }
    assertThat(everything).doesNotContainMatch("Bearer +[A-Za-z0-9_-]{8,}"); // no credentials
    assertThat(everything).doesNotContain("\tat "); // no stack trace
  }
}
