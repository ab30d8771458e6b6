package dev.invokerguard.client;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.MetadataServer;
import dev.invokerguard.testing.TestIssuer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path on one machine: the {@code invoke} CLI and the client library, through the real
 * google-auth-library, get ID tokens from metadata-server stand-ins (one per service account) and
 * call the protected function served by the real Functions Framework invoker, which checks them
 * against the stand-in issuer's keys.
 */
class RoundTripTest {

  private static final String FUNCTION_TARGET = "dev.invokerguard.function.ProtectedFunction";
  private static final String ALLOWED = "orders-client@client-proj.iam.gserviceaccount.com";
  private static final String STRANGER = "intruder@elsewhere-proj.iam.gserviceaccount.com";

  @TempDir static Path gcloudConfig;
  private static TestIssuer issuer;
  private static MetadataServer allowed;
  private static MetadataServer stranger;
  private static RunningFunction allowsEmail;
  private static RunningFunction allowsUniqueId;

  /** One invoker serving the function, allowing {@code allowedInvokers}. */
  private record RunningFunction(ChildJvm jvm, String url) {
    static RunningFunction start(String allowedInvokers) {
      int port = ChildJvm.freePort();
      String url = "http://127.0.0.1:" + port;
      ChildJvm jvm =
          ChildJvm.functionsInvoker(FUNCTION_TARGET, port)
              .env("ALLOWED_INVOKERS", allowedInvokers)
              .env("EXPECTED_AUDIENCES", url)
              .env("JWKS_URL", issuer.jwksUri().toString())
              .env("TOKEN_ISSUERS", issuer.issuer())
              .start();
      try {
        jvm.awaitPort(port, Duration.ofSeconds(60));
      } catch (RuntimeException e) {
        jvm.close();
        throw e;
      }
      return new RunningFunction(jvm, url);
    }
  }

  @BeforeAll
  static void start() {
    issuer = TestIssuer.start();
    allowed = issuer.startMetadataServer(ALLOWED);
    stranger = issuer.startMetadataServer(STRANGER);
    allowsEmail = RunningFunction.start(ALLOWED);
    allowsUniqueId = RunningFunction.start(TestIssuer.uniqueIdOf(ALLOWED));
  }

  @AfterAll
  static void stop() {
    if (allowsUniqueId != null) {
      allowsUniqueId.jvm().close();
    }
    if (allowsEmail != null) {
      allowsEmail.jvm().close();
    }
    issuer.close();
  }

  private static ClientRun.Result invoke(MetadataServer as, String... args) {
    return ClientRun.main(Invoke.class, gcloudConfig, Map.of("GCE_METADATA_HOST", as.host()), args);
  }

  @Test
  void allowedAccount_getsTheApiAnswer() {
    ClientRun.Result result = invoke(allowed, allowsEmail.url());

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(Invoke.EXIT_OK);
    assertThat(result.stdout()).startsWith("HTTP/1.1 200\n");
    assertThat(result.stdout()).contains("\"caller\":\"" + ALLOWED + "\"");
  }

  @Test
  void allowedAccount_postsJson() {
    ClientRun.Result result = invoke(allowed, allowsEmail.url(), "--data", "{\"order\":42}");

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(Invoke.EXIT_OK);
    assertThat(result.stdout()).contains("order");
  }

  @Test
  void strangerAccount_forbidden() {
    ClientRun.Result result = invoke(stranger, allowsEmail.url());

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(Invoke.EXIT_HTTP_ERROR);
    assertThat(result.stdout()).startsWith("HTTP/1.1 403\n");
  }

  @Test
  void tokenForAnotherAudience_unauthorized() {
    ClientRun.Result result =
        invoke(allowed, allowsEmail.url(), "--audience", "https://another-function.example");

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(Invoke.EXIT_HTTP_ERROR);
    assertThat(result.stdout()).startsWith("HTTP/1.1 401\n");
  }

  @Test
  void standardFormatToken_refusedWhenOnlyTheEmailIsAllowed() {
    ClientRun.Result result =
        ClientRun.main(
            StandardFormatProbe.class,
            gcloudConfig,
            Map.of("GCE_METADATA_HOST", allowed.host()),
            allowsEmail.url());

    assertWithMessage(result.toString()).that(result.values().get("status")).isEqualTo("403");
  }

  @Test
  void standardFormatToken_acceptedWhenTheUniqueIdIsAllowed() {
    ClientRun.Result result =
        ClientRun.main(
            StandardFormatProbe.class,
            gcloudConfig,
            Map.of("GCE_METADATA_HOST", allowed.host()),
            allowsUniqueId.url());

    assertWithMessage(result.toString()).that(result.values().get("status")).isEqualTo("200");
  }

  @Test
  void fullFormatToken_alsoAcceptedByUniqueId() {
    ClientRun.Result result = invoke(allowed, allowsUniqueId.url());

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(Invoke.EXIT_OK);
  }

  @Test
  void functionLogs_neverHoldTheToken() {
    invoke(allowed, allowsEmail.url());

    // The token is not known here, but every token starts like this; the log must hold none.
    assertThat(allowsEmail.jvm().stdout()).doesNotContain("eyJ");
    assertThat(allowsEmail.jvm().stderr()).doesNotContain("eyJ");
  }
}
