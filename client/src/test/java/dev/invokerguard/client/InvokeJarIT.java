package dev.invokerguard.client;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.MetadataServer;
import dev.invokerguard.testing.TestIssuer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The self-contained jar that {@code package} leaves in {@code client/target/invoke.jar}. */
class InvokeJarIT {

  private static final Path JAR = Path.of("target", "invoke.jar");
  private static final String ACCOUNT = "jar-caller@proj-5.iam.gserviceaccount.com";

  @TempDir Path gcloudConfig;

  @Test
  void jar_isBuilt_andHelpExitsZero() throws Exception {
    assertThat(Files.isRegularFile(JAR)).isTrue();

    ChildJvm.Result result = ChildJvm.run(ChildJvm.jar(JAR, "--help"), gcloudConfig, Map.of());

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(0);
    assertThat(result.stdout()).contains("Usage: java -jar invoke.jar URL");
  }

  @Test
  void jar_viaMetadataServer_callsUrlWithFullFormatToken() throws Exception {
    try (TestIssuer issuer = TestIssuer.start();
        RecordingServer target = new RecordingServer()) {
      MetadataServer metadata = issuer.startMetadataServer(ACCOUNT);
      target.answer(200, "{\"caller\":\"" + ACCOUNT + "\"}");
      String url = target.uri("/guarded?verbose=1").toString();

      ChildJvm.Result result =
          ChildJvm.run(
              ChildJvm.jar(JAR, url), gcloudConfig, Map.of("GCE_METADATA_HOST", metadata.host()));

      assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(0);
      assertThat(result.stdout()).startsWith("HTTP/1.1 200\n");
      String token = target.requests().get(0).authorization().substring("Bearer ".length());
      JsonObject claims =
          JsonParser.parseString(
                  new String(
                      Base64.getUrlDecoder().decode(token.split("\\.")[1]), StandardCharsets.UTF_8))
              .getAsJsonObject();
      assertThat(claims.get("email").getAsString()).isEqualTo(ACCOUNT);
      assertThat(claims.get("aud").getAsString()).isEqualTo(target.uri("/guarded").toString());
      assertThat(result.stdout() + result.stderr()).doesNotContain(token);
    }
  }

  @Test
  void jar_noCredentials_exitsThree() throws Exception {
    ChildJvm.Result result =
        ChildJvm.run(
            ChildJvm.jar(JAR, "http://127.0.0.1:9/fn"),
            gcloudConfig,
            Map.of("NO_GCE_CHECK", "true"));

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(3);
    assertThat(result.stderr()).contains("To fix:");
  }
}
