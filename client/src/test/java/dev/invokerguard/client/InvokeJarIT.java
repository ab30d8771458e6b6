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
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The self-contained jar that {@code package} leaves in {@code client/target/invoke.jar}. */
class InvokeJarIT {

  private static final Path JAR = Path.of("target", "invoke.jar");
  private static final String ACCOUNT = "jar-caller@proj-5.iam.gserviceaccount.com";

  @TempDir Path gcloudConfig;

  @Test
  void jar_isBuilt_withMainClass_andJavaJarHelpExitsZero() throws Exception {
    assertThat(Files.isRegularFile(JAR)).isTrue();
    try (JarFile jar = new JarFile(JAR.toFile())) {
      assertThat(jar.getManifest().getMainAttributes().getValue("Main-Class"))
          .isEqualTo(Invoke.class.getName());
    }

    // Literally as documented: java -jar client/target/invoke.jar --help
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process process =
        new ProcessBuilder(java.toString(), "-jar", JAR.toString(), "--help")
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertWithMessage(output).that(process.exitValue()).isEqualTo(0);
    assertThat(output).contains("Usage: java -jar invoke.jar URL");
  }

  @Test
  void jar_viaMetadataServer_callsUrlWithFullFormatToken() throws Exception {
    try (TestIssuer issuer = TestIssuer.start();
        RecordingServer target = new RecordingServer()) {
      MetadataServer metadata = issuer.startMetadataServer(ACCOUNT);
      target.answer(200, "{\"caller\":\"" + ACCOUNT + "\"}");
      String url = target.uri("/guarded?verbose=1").toString();

      ClientRun.Result result =
          ClientRun.jar(JAR, gcloudConfig, Map.of("GCE_METADATA_HOST", metadata.host()), url);

      assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(0);
      assertThat(result.stdout()).startsWith("HTTP/1.1 200\n");
      RecordingServer.Request received = target.requests().get(0);
      assertThat(received.serverlessAuthorization()).isEqualTo(received.authorization());
      String token = received.authorization().substring("Bearer ".length());
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

  /**
   * Issue 12 item 4, as a user types it: plain http to a host off this machine is refused with exit
   * status 2 before any token is fetched (the metadata server stand-in is asked for none).
   */
  @Test
  void jar_plainHttpOffLoopback_refusedBeforeAnyTokenIsFetched() throws Exception {
    try (TestIssuer issuer = TestIssuer.start();
        RecordingServer proxy = new RecordingServer()) {
      MetadataServer metadata = issuer.startMetadataServer(ACCOUNT);

      ClientRun.Result result =
          ClientRun.jar(
              JAR,
              gcloudConfig,
              Map.of(
                  "GCE_METADATA_HOST",
                  metadata.host(),
                  // Were the check missing, the request would go to this loopback proxy (and the
                  // metadata server, on 127.*, is not proxied by default), never off this machine.
                  "JAVA_TOOL_OPTIONS",
                  "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=" + proxy.uri("/").getPort()),
              "http://192.0.2.1/fn"); // TEST-NET-1

      assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(2);
      assertThat(result.stderr()).contains("refusing to send an ID token over plain http");
      assertThat(metadata.identityRequestCount()).isEqualTo(0);
      assertThat(proxy.requests()).isEmpty();
    }
  }

  @Test
  void jar_noCredentials_exitsThree() throws Exception {
    ClientRun.Result result =
        ClientRun.jar(JAR, gcloudConfig, Map.of("NO_GCE_CHECK", "true"), "http://127.0.0.1:9/fn");

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(3);
    assertThat(result.stderr()).contains("To fix:");
  }
}
