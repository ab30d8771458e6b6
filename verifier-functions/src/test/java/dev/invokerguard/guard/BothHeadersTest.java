package dev.invokerguard.guard;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.verifier.CallerRejectedException;
import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import dev.invokerguard.verifier.TokenSource;
import dev.invokerguard.verifier.VerifiedCaller;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every combination of the two credentials headers (docs/FUNCTION.md, "Both headers"): each header
 * absent, intact, stripped by the platform or garbage, the same caller or another, trust mode off
 * and on. One row of the table, one case here; real keys from {@link TestIssuer} on loopback, the
 * real verifier and the guard's HTTP answer.
 */
class BothHeadersTest {
  static final String AUDIENCE = "https://fn.example/api";
  static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";
  static final String BOB = "bob@caller-project.iam.gserviceaccount.com";
  static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";
  static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");

  private static TestIssuer issuer;
  private static CallerVerifier strict;
  private static CallerVerifier trusting;

  @BeforeAll
  static void start() {
    MutableClock clock = new MutableClock(NOW);
    issuer = TestIssuer.builder().clock(clock).start();
    strict = verifier(clock, false);
    trusting = verifier(clock, true);
  }

  private static CallerVerifier verifier(MutableClock clock, boolean trust) {
    CallerVerifier.Builder builder =
        CallerVerifier.builder()
            .expectedAudiences(AUDIENCE)
            .allowlist(ServiceAccountAllowlist.of(List.of(ALICE, BOB)))
            .clock(clock)
            .jwksUri(issuer.jwksUri());
    return (trust ? builder.trustPlatformVerifiedTokens() : builder).build();
  }

  @AfterAll
  static void stop() {
    strict.close();
    trusting.close();
    issuer.close();
  }

  private static void assertSourceFields(JsonObject json, TokenSource source) {
    if (source == null) {
      assertThat(json.has(TokenSource.HEADER_FIELD)).isFalse();
      assertThat(json.has(TokenSource.SIGNATURE_FIELD)).isFalse();
      assertThat(json.has(TokenSource.SERVERLESS_HEADER_FIELD)).isFalse();
      return;
    }
    assertThat(json.get(TokenSource.HEADER_FIELD).getAsString()).isEqualTo(source.header());
    assertThat(json.get(TokenSource.SIGNATURE_FIELD).getAsString()).isEqualTo(source.signature());
    assertThat(json.get(TokenSource.SERVERLESS_HEADER_FIELD).getAsString())
        .isEqualTo(source.serverlessHeader());
  }

  /** What a header holds. */
  enum Value {
    ABSENT,
    ALICE_INTACT,
    ALICE_STRIPPED,
    BOB_INTACT,
    BOB_STRIPPED,
    STRANGER_INTACT,
    ALICE_EXPIRED,
    ALICE_BAD_SIGNATURE,
    /** Alice's unique ID with Bob's email, stripped. */
    ALICE_ID_BOB_EMAIL_STRIPPED,
    GARBAGE,
    /** Another scheme: an application's own use of {@code Authorization}, not a token. */
    BASIC;

    String header() throws Exception {
      return switch (this) {
        case ABSENT -> null;
        case ALICE_INTACT -> bearer(issuer.mint(ALICE, AUDIENCE));
        case ALICE_STRIPPED -> bearer(stripped(ALICE, ALICE));
        case BOB_INTACT -> bearer(issuer.mint(BOB, AUDIENCE));
        case BOB_STRIPPED -> bearer(stripped(BOB, BOB));
        case STRANGER_INTACT -> bearer(issuer.mint(STRANGER, AUDIENCE));
        case ALICE_EXPIRED ->
            bearer(
                issuer
                    .token()
                    .email(ALICE)
                    .audience(AUDIENCE)
                    .issuedAt(NOW.minusSeconds(7200))
                    .expiresAt(NOW.minusSeconds(3600))
                    .build());
        case ALICE_BAD_SIGNATURE -> {
          KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
          generator.initialize(2048);
          yield bearer(
              issuer
                  .token()
                  .email(ALICE)
                  .audience(AUDIENCE)
                  .signWith(generator.generateKeyPair().getPrivate())
                  .build());
        }
        case ALICE_ID_BOB_EMAIL_STRIPPED -> bearer(stripped(ALICE, BOB));
        case GARBAGE -> "Bearer not-a-token";
        case BASIC -> "Basic YWxpY2U6c2VjcmV0";
      };
    }

    private static String bearer(String token) {
      return "Bearer " + token;
    }

    /** A real token of the issuer as the platform forwards it: signature part replaced. */
    private static String stripped(String idOf, String email) {
      return issuer
          .token()
          .email(email)
          .subject(TestIssuer.uniqueIdOf(idOf))
          .audience(AUDIENCE)
          .signature("SIGNATURE_REMOVED_BY_GOOGLE")
          .build();
    }
  }

  /**
   * The answer to a row: status, reason (ALLOWED for 200), where the token came from, and for a 200
   * whose unique ID the caller has.
   */
  record Answer(int status, String reason, TokenSource source, String subjectOf) {
    @Override
    public String toString() {
      return status + " " + reason + (source == null ? "" : " " + source);
    }
  }

  static Answer allowed(TokenSource source) {
    return allowed(source, ALICE);
  }

  static Answer allowed(TokenSource source, String subjectOf) {
    return new Answer(200, "ALLOWED", source, subjectOf);
  }

  static Answer denied(int status, String reason, TokenSource source) {
    return new Answer(status, reason, source, null);
  }

  /** The table of docs/FUNCTION.md, "Both headers": one line per row, trust mode off and on. */
  static Stream<Arguments> rows() {
    TokenSource a = TokenSource.AUTHORIZATION;
    TokenSource sa = TokenSource.STRIPPED_AUTHORIZATION;
    TokenSource x = TokenSource.SERVERLESS;
    TokenSource sx = TokenSource.STRIPPED_SERVERLESS;
    TokenSource copy = TokenSource.AUTHORIZATION_BESIDE_STRIPPED;
    TokenSource both = TokenSource.STRIPPED_AUTHORIZATION_BESIDE_STRIPPED;
    List<Arguments> rows = new ArrayList<>();
    // X-Serverless-Authorization absent: Authorization is judged as it comes.
    row(rows, Value.ABSENT, Value.ABSENT, denied(401, "MISSING_CREDENTIALS", null), null);
    row(rows, Value.ABSENT, Value.ALICE_INTACT, allowed(a), null);
    row(rows, Value.ABSENT, Value.STRANGER_INTACT, denied(403, "CALLER_NOT_ALLOWED", a), null);
    row(
        rows,
        Value.ABSENT,
        Value.ALICE_STRIPPED,
        denied(401, "SIGNATURE_REMOVED", sa),
        allowed(sa));
    row(rows, Value.ABSENT, Value.GARBAGE, denied(401, "MALFORMED_TOKEN", a), null);
    // X-Serverless-Authorization intact: judged alone, Authorization ignored whatever it holds.
    row(rows, Value.ALICE_INTACT, Value.ABSENT, allowed(x), null);
    row(rows, Value.ALICE_INTACT, Value.ALICE_INTACT, allowed(x), null);
    row(rows, Value.ALICE_INTACT, Value.BOB_INTACT, allowed(x), null);
    row(rows, Value.ALICE_INTACT, Value.ALICE_STRIPPED, allowed(x), null);
    row(rows, Value.ALICE_INTACT, Value.GARBAGE, allowed(x), null);
    row(
        rows,
        Value.STRANGER_INTACT,
        Value.ALICE_INTACT,
        denied(403, "CALLER_NOT_ALLOWED", x),
        null);
    // X-Serverless-Authorization stripped. Trust mode off: a Bearer copy in Authorization decides.
    // Trust mode on: the stripped token is trusted as the platform's judgement, and Authorization
    // is left to the application.
    Answer trusted = allowed(sx);
    row(rows, Value.ALICE_STRIPPED, Value.ABSENT, denied(401, "SIGNATURE_REMOVED", sx), trusted);
    row(rows, Value.ALICE_STRIPPED, Value.BASIC, denied(401, "SIGNATURE_REMOVED", sx), trusted);
    row(rows, Value.ALICE_STRIPPED, Value.ALICE_INTACT, allowed(copy), trusted);
    row(
        rows,
        Value.ALICE_STRIPPED,
        Value.BOB_INTACT,
        denied(401, "CALLER_MISMATCH", copy),
        trusted);
    row(
        rows,
        Value.BOB_STRIPPED,
        Value.ALICE_INTACT,
        denied(401, "CALLER_MISMATCH", copy),
        allowed(sx, BOB));
    row(
        rows,
        Value.ALICE_ID_BOB_EMAIL_STRIPPED,
        Value.ALICE_INTACT,
        denied(401, "CALLER_MISMATCH", copy),
        trusted);
    row(
        rows,
        Value.ALICE_STRIPPED,
        Value.STRANGER_INTACT,
        denied(403, "CALLER_NOT_ALLOWED", copy),
        trusted);
    row(rows, Value.ALICE_STRIPPED, Value.ALICE_EXPIRED, denied(401, "EXPIRED", copy), trusted);
    row(
        rows,
        Value.ALICE_STRIPPED,
        Value.ALICE_BAD_SIGNATURE,
        denied(401, "BAD_SIGNATURE", copy),
        trusted);
    row(
        rows,
        Value.ALICE_STRIPPED,
        Value.ALICE_STRIPPED,
        denied(401, "SIGNATURE_REMOVED", both),
        trusted);
    row(rows, Value.ALICE_STRIPPED, Value.GARBAGE, denied(401, "MALFORMED_TOKEN", copy), trusted);
    // X-Serverless-Authorization garbage: judged alone, never rescued by Authorization.
    row(rows, Value.GARBAGE, Value.ABSENT, denied(401, "MALFORMED_TOKEN", x), null);
    row(rows, Value.GARBAGE, Value.ALICE_INTACT, denied(401, "MALFORMED_TOKEN", x), null);
    row(rows, Value.GARBAGE, Value.ALICE_STRIPPED, denied(401, "MALFORMED_TOKEN", x), null);
    return rows.stream();
  }

  /**
   * Adds a row in both trust modes; {@code trusted} is the answer with trust mode on when it
   * differs, {@code null} when it is the same.
   */
  private static void row(
      List<Arguments> rows, Value serverless, Value authorization, Answer off, Answer trusted) {
    rows.add(Arguments.of(serverless, authorization, false, off));
    rows.add(Arguments.of(serverless, authorization, true, trusted == null ? off : trusted));
  }

  @ParameterizedTest(name = "X-Serverless-Authorization {0}, Authorization {1}, trust {2}: {3}")
  @MethodSource("rows")
  void service_bothHeaders_answerAsTheTableSays(
      Value serverless, Value authorization, boolean trust, Answer expected) throws Exception {
    CallerVerifier verifier = trust ? trusting : strict;
    AtomicReference<Optional<TokenSource>> source = new AtomicReference<>(Optional.empty());
    List<String> lines = new ArrayList<>();
    GuardedFunction guard =
        new GuardedFunction(
            headers -> {
              try {
                VerifiedCaller caller = verifier.verify(headers);
                source.set(caller.tokenSource());
                return caller;
              } catch (CallerRejectedException e) {
                source.set(e.tokenSource());
                throw e;
              }
            },
            (caller, request, response) -> {
              response.setStatusCode(200);
              response.getWriter().write("{}");
            },
            new DecisionLog(Optional.empty(), lines::add),
            Duration.ofSeconds(10));
    FakeHttp.Request request = new FakeHttp.Request("GET", "/");
    if (serverless.header() != null) {
      request.header("X-Serverless-Authorization", serverless.header());
    }
    if (authorization.header() != null) {
      request.header("Authorization", authorization.header());
    }
    FakeHttp.Response response = new FakeHttp.Response();

    guard.service(request, response);

    JsonObject line = JsonParser.parseString(lines.get(0)).getAsJsonObject();
    assertThat(response.status()).isEqualTo(expected.status());
    assertThat(line.get("reason").getAsString()).isEqualTo(expected.reason());
    assertThat(source.get()).isEqualTo(Optional.ofNullable(expected.source()));
    // docs/FUNCTION.md, "Which header": the decision line and the error body say where the token
    // came from, in the same three fields, and never echo a token.
    assertSourceFields(line, expected.source());
    if (expected.status() != 200) {
      JsonObject body = JsonParser.parseString(response.bodyText()).getAsJsonObject();
      assertSourceFields(body, expected.source());
      assertThat(body.keySet().size()).isEqualTo(expected.source() == null ? 1 : 4);
    }
    for (String value : new String[] {serverless.header(), authorization.header()}) {
      if (value != null && value.startsWith("Bearer ")) {
        String token = value.substring("Bearer ".length());
        assertThat(lines.get(0)).doesNotContain(token);
        assertThat(response.bodyText()).doesNotContain(token);
      }
    }
    if (expected.status() == 200) {
      boolean stripped = expected.source().signature().equals("stripped");
      assertThat(line.get("signatureCheck").getAsString())
          .isEqualTo(stripped ? "TRUSTED_PLATFORM" : "VERIFIED");
      assertThat(line.get("subject").getAsString())
          .isEqualTo(TestIssuer.uniqueIdOf(expected.subjectOf()));
    }
  }
}
