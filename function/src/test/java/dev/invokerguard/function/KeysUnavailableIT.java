package dev.invokerguard.function;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.TestIssuer;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The key endpoint fails from the very start: the function answers 503 with {@code Retry-After}
 * (never a 401 that blames the caller), and serves again, without a restart, once it recovers.
 */
class KeysUnavailableIT {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";

  @Test
  void keyEndpointFailingFromStart_503WithRetryAfter_thenRecovers() throws Exception {
    try (TestIssuer issuer = TestIssuer.start()) {
      issuer.jwks().respondWith(500, "{\"error\":\"backend\"}");
      int port = ChildJvm.freePort();
      String audience = RunningFunction.audience(port);
      try (RunningFunction function =
          RunningFunction.start(
              port,
              Map.of(
                  "ALLOWED_INVOKERS",
                  ALICE,
                  "EXPECTED_AUDIENCES",
                  audience,
                  "JWKS_URL",
                  issuer.jwksUri().toString(),
                  "TOKEN_ISSUERS",
                  issuer.issuer(),
                  // The endpoint answers at once with an error status; a generous timeout keeps a
                  // loaded machine's slow answer an HTTP_STATUS outcome, not a TIMEOUT.
                  "KEY_FETCH_TIMEOUT_SECONDS",
                  "10",
                  "KEY_REFETCH_INTERVAL_SECONDS",
                  "1"))) {
        String token = issuer.mint(ALICE, audience);

        HttpResponse<String> unavailable =
            function.send(function.get("/").header("Authorization", "Bearer " + token));

        assertThat(unavailable.statusCode()).isEqualTo(503);
        assertThat(unavailable.headers().firstValue("Retry-After")).hasValue("1");
        assertThat(
                JsonParser.parseString(unavailable.body())
                    .getAsJsonObject()
                    .get("error")
                    .getAsString())
            .isEqualTo("unavailable");
        assertThat(unavailable.headers().firstValue("WWW-Authenticate")).isEmpty();
        assertThat(function.jvm.stdout()).contains("\"reason\":\"KEYS_UNAVAILABLE\"");

        issuer.jwks().respondNormally();
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        int status = 503;
        while (status == 503 && Instant.now().isBefore(deadline)) {
          status =
              function
                  .send(function.get("/").header("Authorization", "Bearer " + token))
                  .statusCode();
          if (status == 503 && function.jvm.exitedWithin(Duration.ofMillis(200))) {
            break;
          }
        }
        assertThat(status).isEqualTo(200);

        // Key health: one line when the start-up fetch failed, whatever the number of 503s since,
        // and one when keys loaded; each in the shape the Monitoring filters rely on.
        assertThat(function.keyHealthStates()).containsExactly("UNUSABLE", "RECOVERED").inOrder();
        JsonObject unusable = function.keyHealthLines().get(0);
        assertThat(unusable.get("severity").getAsString()).isEqualTo("ERROR");
        assertThat(unusable.get("jwksUri").getAsString()).isEqualTo(issuer.jwksUri().toString());
        assertThat(unusable.get("fetchOutcome").getAsString()).isEqualTo("HTTP_STATUS");
        assertThat(unusable.get("usableForSeconds").getAsLong()).isEqualTo(0);
        JsonObject recovered = function.keyHealthLines().get(1);
        assertThat(recovered.get("severity").getAsString()).isEqualTo("INFO");
        assertThat(recovered.get("failedFetches").getAsInt()).isAtLeast(1);
        assertThat(recovered.get("keyCount").getAsInt()).isEqualTo(issuer.keyIds().size());
        assertThat(recovered.has("outageSeconds")).isTrue();
      }
    }
  }
}
