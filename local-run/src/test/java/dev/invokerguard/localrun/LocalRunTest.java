package dev.invokerguard.localrun;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.ChildJvm;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The local run starts, and the curl commands it prints get 200 and 403 as they say. */
class LocalRunTest {
  private static final Pattern CURL =
      Pattern.compile("^curl -i -H 'Authorization: Bearer ([A-Za-z0-9_.-]+)' (\\S+)$");
  private static final Pattern INVOKE =
      Pattern.compile("^GCE_METADATA_HOST=(\\S+) java -jar client/target/invoke.jar (\\S+)$");

  @Test
  void start_printedCurlCommands_allowedGets200_strangerGets403() throws Exception {
    int port = ChildJvm.freePort();
    ByteArrayOutputStream printed = new ByteArrayOutputStream();

    try (LocalRun run =
        LocalRun.start(port, false, new PrintStream(printed, true, StandardCharsets.UTF_8))) {
      List<String> commands =
          printed
              .toString(StandardCharsets.UTF_8)
              .lines()
              .filter(l -> l.startsWith("curl "))
              .toList();
      assertThat(commands).hasSize(2);

      assertThat(runCurl(commands.get(0)).statusCode()).isEqualTo(200);
      assertThat(runCurl(commands.get(1)).statusCode()).isEqualTo(403);
      assertThat(run.invoker().stdout()).contains("\"caller\":\"" + LocalRun.ALLOWED_CALLER + "\"");
    }
  }

  @Test
  void start_printedInvokeCommands_allowedGets200_strangerGets403() throws Exception {
    int port = ChildJvm.freePort();
    ByteArrayOutputStream printed = new ByteArrayOutputStream();

    try (LocalRun run =
        LocalRun.start(port, false, new PrintStream(printed, true, StandardCharsets.UTF_8))) {
      List<String> commands =
          printed.toString(StandardCharsets.UTF_8).lines().filter(INVOKE.asPredicate()).toList();
      assertThat(commands).hasSize(2);

      assertThat(runInvoke(commands.get(0))).startsWith("HTTP/1.1 200\n");
      assertThat(runInvoke(commands.get(1))).startsWith("HTTP/1.1 403\n");
    }
  }

  @Test
  void start_portTaken_refusedWithAClearMessage() throws Exception {
    try (java.net.ServerSocket taken =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> LocalRun.start(taken.getLocalPort(), false, System.out));

      assertThat(e).hasMessageThat().contains("is in use");
    }
  }

  @Test
  void parsePort_defaultsAndRejections() {
    assertThat(LocalRun.parsePort(new String[0])).isEqualTo(8080);
    assertThat(LocalRun.parsePort(new String[] {"--port", "9090"})).isEqualTo(9090);
    assertThrows(IllegalArgumentException.class, () -> LocalRun.parsePort(new String[] {"--port"}));
    assertThrows(
        IllegalArgumentException.class, () -> LocalRun.parsePort(new String[] {"--port", "x"}));
    assertThrows(
        IllegalArgumentException.class, () -> LocalRun.parsePort(new String[] {"--port", "0"}));
  }

  /**
   * Does what a printed invoke command does: the CLI's main class (the jar holds the same, see the
   * client module's InvokeJarIT) in a child JVM with the printed GCE_METADATA_HOST.
   */
  private static String runInvoke(String command) {
    Matcher m = INVOKE.matcher(command);
    assertThat(m.matches()).isTrue();
    try (ChildJvm cli =
        ChildJvm.builder("dev.invokerguard.client.Invoke")
            .env("GCE_METADATA_HOST", m.group(1))
            .env("CLOUDSDK_CONFIG", System.getProperty("java.io.tmpdir") + "/no-gcloud-config")
            .args(m.group(2))
            .start()) {
      cli.awaitExit(Duration.ofSeconds(60));
      return cli.stdout();
    }
  }

  /** Does what the printed curl command does, with the JDK's client. */
  private static HttpResponse<String> runCurl(String command) throws Exception {
    Matcher m = CURL.matcher(command);
    assertThat(m.matches()).isTrue();
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(URI.create(m.group(2)))
                .header("Authorization", "Bearer " + m.group(1))
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString());
  }
}
