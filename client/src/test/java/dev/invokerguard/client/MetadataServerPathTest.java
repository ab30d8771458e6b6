package dev.invokerguard.client;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.MetadataServer;
import dev.invokerguard.testing.TestIssuer;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real google-auth-library code path that runs in a pod (Application Default Credentials, the
 * metadata detection ping, {@code ComputeEngineCredentials} under {@code IdTokenCredentials}),
 * pointed at the metadata-server stand-in with {@code GCE_METADATA_HOST}, in a child JVM.
 */
class MetadataServerPathTest {

  private static final String ACCOUNT = "pod-caller@proj-7.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://us-central1-proj-7.cloudfunctions.net/guarded";

  @TempDir Path gcloudConfig;
  private TestIssuer issuer;
  private MetadataServer metadata;

  @BeforeEach
  void start() {
    issuer = TestIssuer.start();
    metadata = issuer.startMetadataServer(ACCOUNT);
  }

  @AfterEach
  void stop() {
    issuer.close();
  }

  private ClientRun.Result probe(int count, long deadlineMillis) throws Exception {
    return ClientRun.main(
        ClientProbe.class,
        gcloudConfig,
        Map.of("GCE_METADATA_HOST", metadata.host()),
        AUDIENCE,
        Integer.toString(count),
        Long.toString(deadlineMillis));
  }

  private static JsonObject claims(ClientRun.Result result) {
    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(0);
    return JsonParser.parseString(result.values().get("claims")).getAsJsonObject();
  }

  @Test
  void metadataServer_fullFormatToken_carriesEmailForTheAudience() throws Exception {
    ClientRun.Result result = probe(1, 10_000);

    JsonObject claims = claims(result);
    assertThat(result.values().get("source")).isEqualTo("METADATA_SERVER");
    assertThat(claims.get("email").getAsString()).isEqualTo(ACCOUNT);
    assertThat(claims.get("aud").getAsString()).isEqualTo(AUDIENCE);
    assertThat(claims.get("sub").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(ACCOUNT));
    assertThat(metadata.identityRequests())
        .containsExactly(new MetadataServer.IdentityRequest(AUDIENCE, "full", true));
  }

  @Test
  void metadataServer_manyRequests_oneIdentityRequest() throws Exception {
    ClientRun.Result result = probe(50, 10_000);

    claims(result);
    assertThat(result.values().get("distinct")).isEqualTo("1");
    assertThat(metadata.identityRequestCount()).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(ints = {429, 500, 503})
  void metadataServer_transientStatus_retriedThenSucceeds(int status) throws Exception {
    metadata.failNext(2, status);

    ClientRun.Result result = probe(1, 20_000);

    assertThat(claims(result).get("email").getAsString()).isEqualTo(ACCOUNT);
    assertThat(metadata.identityRequestCount()).isEqualTo(3);
  }

  @Test
  void metadataServer_notReadyThenReady_succeeds() throws Exception {
    // A starting pod's metadata server drops connections; HttpURLConnection may silently retry a
    // dropped GET once itself, so more requests than drops can arrive.
    metadata.dropNext(4);

    ClientRun.Result result = probe(1, 20_000);

    assertThat(claims(result).get("email").getAsString()).isEqualTo(ACCOUNT);
    assertThat(metadata.identityRequestCount()).isAtLeast(5);
  }

  @Test
  void metadataServer_permanentError_failsAtOnceNamingServerAndFix() throws Exception {
    metadata.failNext(50, 404);

    ClientRun.Result result = probe(1, 20_000);

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(3);
    assertThat(result.values().get("error.source")).isEqualTo("METADATA_SERVER");
    String message = result.values().get("error.message");
    assertThat(message).contains("from the metadata server at http://" + metadata.host());
    assertThat(message).contains("Error code 404");
    assertThat(message).contains("To fix: on GKE, check Workload Identity");
    assertThat(metadata.identityRequestCount()).isEqualTo(1);
  }

  @Test
  void metadataServer_unavailablePastDeadline_givesUp() throws Exception {
    metadata.failNext(1_000, 503);

    ClientRun.Result result = probe(1, 1_500);

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(3);
    String message = result.values().get("error.message");
    assertThat(message).contains("still failing after");
    assertThat(message).contains("retry deadline 1500 ms");
    assertThat(metadata.identityRequestCount()).isAtLeast(2);
    assertThat(metadata.identityRequestCount()).isLessThan(20);
  }

  @Test
  void noCredentialsAnywhere_failsAsNoneFound() throws Exception {
    // NO_GCE_CHECK keeps the library from looking for metadata.google.internal: only loopback.
    ClientRun.Result result =
        ClientRun.main(
            ClientProbe.class, gcloudConfig, Map.of("NO_GCE_CHECK", "true"), AUDIENCE, "1", "1000");

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(3);
    assertThat(result.values().get("error.source")).isEqualTo("NONE_FOUND");
    assertThat(result.values().get("error.message")).contains("set GOOGLE_APPLICATION_CREDENTIALS");
  }

  @Test
  void missingKeyFile_failsNamingTheVariableAndPath() throws Exception {
    Path missing = gcloudConfig.resolve("no-such-key.json");
    ClientRun.Result result =
        ClientRun.main(
            ClientProbe.class,
            gcloudConfig,
            Map.of("GOOGLE_APPLICATION_CREDENTIALS", missing.toString(), "NO_GCE_CHECK", "true"),
            AUDIENCE,
            "1",
            "1000");

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(3);
    assertThat(result.values().get("error.source")).isEqualTo("KEY_FILE");
    assertThat(result.values().get("error.message")).contains(missing.toString());
    assertThat(result.values().get("error.message")).contains("GOOGLE_APPLICATION_CREDENTIALS");
  }
}
