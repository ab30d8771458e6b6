package dev.invokerguard.testing;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drives the real google-auth-library-java code path (Application Default Credentials, the
 * metadata-server detection ping, {@code ComputeEngineCredentials.idTokenWithAudience}) against the
 * stand-in. The library reads {@code GCE_METADATA_HOST} from the process environment, which a
 * running JVM cannot change, so the client runs in a child JVM.
 */
class GoogleAuthLibraryCompatibilityTest {

  private static final String ACCOUNT = "pod-caller@proj-9.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://fn-compat-uc.a.run.app";

  @Test
  void applicationDefaultCredentials_viaGceMetadataHost_getFullAndStandardTokens(
      @TempDir Path emptyGcloudConfig) throws Exception {
    try (TestIssuer issuer = TestIssuer.start()) {
      MetadataServer metadata = issuer.startMetadataServer(ACCOUNT);

      Map<String, String> lines = runProbe(metadata.host(), emptyGcloudConfig);

      assertThat(lines.get("credentials")).isEqualTo("ComputeEngineCredentials");
      JsonObject full = Jwt.payload(lines.get("full"));
      assertThat(full.get("email").getAsString()).isEqualTo(ACCOUNT);
      assertThat(full.get("aud").getAsString()).isEqualTo(AUDIENCE);
      JsonObject standard = Jwt.payload(lines.get("standard"));
      assertThat(standard.has("email")).isFalse();
      assertThat(standard.get("sub").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(ACCOUNT));
      assertThat(Jwt.signatureValid(lines.get("full"), issuer.publicKey(issuer.activeKeyId())))
          .isTrue();
      assertThat(metadata.identityRequests())
          .containsExactly(
              new MetadataServer.IdentityRequest(AUDIENCE, "full", true),
              new MetadataServer.IdentityRequest(AUDIENCE, null, true))
          .inOrder();
    }
  }

  private static Map<String, String> runProbe(String metadataHost, Path gcloudConfig)
      throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder builder =
        new ProcessBuilder(
            List.of(
                java.toString(),
                "-cp",
                System.getProperty("java.class.path"),
                AdcIdTokenProbe.class.getName(),
                AUDIENCE));
    Map<String, String> env = builder.environment();
    // Only the metadata server may be found: no key file, no gcloud login, no GCE opt-out.
    env.remove("GOOGLE_APPLICATION_CREDENTIALS");
    env.remove("NO_GCE_CHECK");
    env.remove("GCE_METADATA_IP");
    env.put("CLOUDSDK_CONFIG", gcloudConfig.toString());
    env.put("GCE_METADATA_HOST", metadataHost);
    builder.redirectErrorStream(true);
    Process process = builder.start();
    CompletableFuture<String> output =
        CompletableFuture.supplyAsync(() -> readAll(process.getInputStream()));
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("probe did not finish in 60 s");
    }
    String text = output.get(10, TimeUnit.SECONDS);
    assertThat(process.exitValue()).isEqualTo(0);
    Map<String, String> lines = new HashMap<>();
    for (String line : text.split("\\R")) {
      int equals = line.indexOf('=');
      if (equals > 0) {
        lines.put(line.substring(0, equals), line.substring(equals + 1));
      }
    }
    if (!lines.containsKey("full") || !lines.containsKey("standard")) {
      throw new AssertionError("probe output lacks tokens:\n" + text);
    }
    return lines;
  }

  private static String readAll(InputStream in) {
    try (in;
        ByteArrayOutputStream out = new ByteArrayOutputStream()) {
      in.transferTo(out);
      return out.toString(StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
