package dev.invokerguard.function;

import static com.google.common.truth.Truth.assertThat;

import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.TestIssuer;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The documented few-lines protection of another function works in the real invoker. */
class ExampleFunctionIT {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";

  @Test
  void exampleFunction_allowedGetsItsAnswer_strangerAndAnonymousDoNot() throws Exception {
    try (TestIssuer issuer = TestIssuer.start()) {
      int port = ChildJvm.freePort();
      String audience = RunningFunction.audience(port);
      try (RunningFunction function =
          RunningFunction.startFromTestClasspath(
              ExampleFunction.class.getName(),
              port,
              Map.of(
                  "ALLOWED_INVOKERS",
                  ALICE,
                  "EXPECTED_AUDIENCES",
                  audience,
                  "JWKS_URL",
                  issuer.jwksUri().toString(),
                  "TOKEN_ISSUERS",
                  issuer.issuer()))) {
        HttpResponse<String> allowed =
            function.send(
                function
                    .get("/")
                    .header("Authorization", "Bearer " + issuer.mint(ALICE, audience)));
        HttpResponse<String> stranger =
            function.send(
                function
                    .get("/")
                    .header(
                        "Authorization",
                        "Bearer "
                            + issuer.mint("mallory@other.iam.gserviceaccount.com", audience)));
        HttpResponse<String> anonymous = function.send(function.get("/"));

        assertThat(allowed.statusCode()).isEqualTo(200);
        assertThat(allowed.body()).isEqualTo("Hello, " + ALICE + "\n");
        assertThat(stranger.statusCode()).isEqualTo(403);
        assertThat(anonymous.statusCode()).isEqualTo(401);
      }
    }
  }
}
