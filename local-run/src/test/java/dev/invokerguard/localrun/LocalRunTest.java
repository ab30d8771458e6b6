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
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The local run starts, and the curl commands it prints get 200 and 403 as they say. */
class LocalRunTest {
  private static final Pattern CURL =
      Pattern.compile("^curl -i -H 'Authorization: Bearer ([A-Za-z0-9_.-]+)' (\\S+)$");

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
