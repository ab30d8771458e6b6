package dev.invokerguard.function;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.guard.FakeHttp;
import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ProtectedFunction} through its test constructor, with a verifier that trusts the
 * platform's signature check (so no key endpoint is involved) and a fixed clock. The real invoker
 * and real signatures are in {@code ProtectedFunctionIT}.
 */
class ProtectedFunctionTest {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://fn.example/api";
  private static final Instant NOW = Instant.parse("2026-11-28T18:00:00Z");

  private final TestIssuer issuer = TestIssuer.builder().clock(new MutableClock(NOW)).start();
  private final CallerVerifier verifier =
      CallerVerifier.builder()
          .expectedAudiences(AUDIENCE)
          .allowlist(ServiceAccountAllowlist.of(List.of(ALICE)))
          .trustPlatformVerifiedTokens()
          .clock(new MutableClock(NOW))
          .build();
  private final ProtectedFunction function = new ProtectedFunction(verifier, new MutableClock(NOW));

  @AfterEach
  void close() {
    verifier.close();
    issuer.close();
  }

  private String platformVerifiedToken(String email) {
    return issuer
        .token()
        .email(email)
        .audience(AUDIENCE)
        .signature("SIGNATURE_REMOVED_BY_GOOGLE")
        .build();
  }

  @Test
  void get_allowedCaller_answersCallerAndServerTimeFromClock() throws Exception {
    FakeHttp.Response response = new FakeHttp.Response();

    function.service(
        new FakeHttp.Request("GET", "/")
            .header("Authorization", "Bearer " + platformVerifiedToken(ALICE)),
        response);

    assertThat(response.status()).isEqualTo(200);
    JsonObject body = JsonParser.parseString(response.bodyText()).getAsJsonObject();
    assertThat(body.get("caller").getAsString()).isEqualTo(ALICE);
    assertThat(body.get("signatureCheck").getAsString()).isEqualTo("TRUSTED_PLATFORM");
    assertThat(body.get("serverTime").getAsString()).isEqualTo("2026-11-28T18:00:00Z");
  }

  @Test
  void get_callersTakingTurns_eachAnswerNamesItsCallerAndTheTimeOfItsRequest() throws Exception {
    // The GET answer's caller part is kept for the last caller, whom a verified-token cache hit
    // hands out again: callers taking turns with signed, reused tokens (the cached path), and
    // one caller's repeated requests, must each get their own names and the current time.
    String bob = "bob@caller-project.iam.gserviceaccount.com";
    MutableClock clock = new MutableClock(NOW);
    try (CallerVerifier both =
        CallerVerifier.builder()
            .expectedAudiences(AUDIENCE)
            .allowlist(ServiceAccountAllowlist.of(List.of(ALICE, bob)))
            .jwksUri(issuer.jwksUri())
            .clock(clock)
            .build()) {
      ProtectedFunction taking = new ProtectedFunction(both, clock);
      Map<String, String> tokens =
          Map.of(ALICE, issuer.mint(ALICE, AUDIENCE), bob, issuer.mint(bob, AUDIENCE));
      List<String> order = List.of(ALICE, bob, bob, ALICE, ALICE, bob);
      for (int i = 0; i < order.size(); i++) {
        clock.set(NOW.plusSeconds(i));
        FakeHttp.Response response = new FakeHttp.Response();

        taking.service(
            new FakeHttp.Request("GET", "/")
                .header("Authorization", "Bearer " + tokens.get(order.get(i))),
            response);

        assertThat(response.status()).isEqualTo(200);
        JsonObject body = JsonParser.parseString(response.bodyText()).getAsJsonObject();
        assertThat(body.get("caller").getAsString()).isEqualTo(order.get(i));
        assertThat(body.get("greeting").getAsString()).isEqualTo("Hello, " + order.get(i) + "!");
        assertThat(body.get("audience").getAsString()).isEqualTo(AUDIENCE);
        assertThat(body.get("serverTime").getAsString()).isEqualTo(NOW.plusSeconds(i).toString());
        assertThat(body.get("signatureCheck").getAsString()).isEqualTo("VERIFIED");
        assertThat(body.get("tokenHeader").getAsString()).isEqualTo("Authorization");
        assertThat(body.get("tokenSignature").getAsString()).isEqualTo("intact");
        assertThat(body.get("serverlessHeader").getAsString()).isEqualTo("absent");
        assertThat(body.keySet()).hasSize(9);
      }
    }
  }

  @Test
  void post_keysListedSortedAndCapped() throws Exception {
    StringBuilder json = new StringBuilder("{");
    for (int i = 0; i < 80; i++) {
      json.append(i == 0 ? "" : ",").append("\"k").append(100 + i).append("\":0");
    }
    json.append("}");

    FakeHttp.Response response = post(json.toString());

    assertThat(response.status()).isEqualTo(200);
    JsonObject received =
        JsonParser.parseString(response.bodyText()).getAsJsonObject().getAsJsonObject("received");
    assertThat(received.getAsJsonArray("keys").size()).isEqualTo(SampleApi.MAX_KEYS_LISTED);
    assertThat(received.getAsJsonArray("keys").get(0).getAsString()).isEqualTo("k100");
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {
        "[1]",
        "\"text\"",
        "{\"a\":1} {}",
        "{\"a\":1} x",
        "{'a':1}",
        "{\"a\":1,}",
        "{\"a\":NaN}",
        "",
        "{\"a\":"
      })
  void post_notExactlyOneStrictJsonObject_400(String body) throws Exception {
    FakeHttp.Response response = post(body);

    assertThat(response.status()).isEqualTo(400);
    assertThat(response.bodyText()).isEqualTo("{\"error\":\"expected_json_object\"}");
  }

  @Test
  void post_repeatedAndNestedKeys_topLevelKeysOnceEach() throws Exception {
    FakeHttp.Response response = post("{\"b\":{\"inner\":[1,{\"x\":2}]},\"a\":1,\"b\":null}");

    assertThat(response.status()).isEqualTo(200);
    JsonObject received =
        JsonParser.parseString(response.bodyText()).getAsJsonObject().getAsJsonObject("received");
    assertThat(received.get("keys").toString()).isEqualTo("[\"a\",\"b\"]");
  }

  private FakeHttp.Response post(String body) throws Exception {
    FakeHttp.Response response = new FakeHttp.Response();
    function.service(
        new FakeHttp.Request("POST", "/")
            .header("Authorization", "Bearer " + platformVerifiedToken(ALICE))
            .body("application/json", body.getBytes(StandardCharsets.UTF_8)),
        response);
    return response;
  }

  @Test
  void post_bodyExactlyAtCap_accepted_oneMoreByte_413() throws Exception {
    String prefix = "{\"k\":\"";
    String suffix = "\"}";
    String atCap =
        prefix + "x".repeat(SampleApi.MAX_BODY_BYTES - prefix.length() - suffix.length()) + suffix;

    FakeHttp.Response ok = post(atCap);
    FakeHttp.Response tooLarge = post(atCap + " ");

    assertThat(ok.status()).isEqualTo(200);
    assertThat(tooLarge.status()).isEqualTo(413);
  }

  @Test
  void get_stranger_neverReachesTheApi() throws Exception {
    FakeHttp.Response response = new FakeHttp.Response();

    function.service(
        new FakeHttp.Request("GET", "/")
            .header(
                "Authorization",
                "Bearer " + platformVerifiedToken("stranger@other.iam.gserviceaccount.com")),
        response);

    assertThat(response.status()).isEqualTo(403);
    assertThat(response.bodyText()).doesNotContain("caller");
  }
}
