package dev.invokerguard.function;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.TestIssuer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The decision log of the deployable jar in the real Functions Framework invoker, its stdout a real
 * pipe read by the test (as the platform collects it): under concurrent requests every answered
 * request has exactly one whole decision line, written before SIGTERM; and a pipe whose reader is
 * gone never turns a decision into an error.
 */
class DecisionLogPipeIT {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";
  private static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";
  private static final int CLIENTS = 32;
  private static final int REQUESTS_PER_CLIENT = 60;
  private static final Duration DEADLINE = Duration.ofSeconds(60);

  @Test
  void concurrentRequests_stdoutPipe_oneWholeDecisionLinePerAnsweredRequest() throws Exception {
    try (TestIssuer issuer = TestIssuer.start()) {
      int port = ChildJvm.freePort();
      try (RunningFunction function =
          RunningFunction.startWithStdoutPipe(port, env(issuer, port))) {
        List<String> stdout = new CopyOnWriteArrayList<>();
        ExecutorService reader = Executors.newSingleThreadExecutor();
        Future<?> reading =
            reader.submit(
                () -> {
                  try (BufferedReader lines =
                      new BufferedReader(
                          new InputStreamReader(
                              function.jvm.process().getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                      stdout.add(line);
                    }
                  }
                  return null;
                });
        reader.shutdown();

        Map<String, Integer> answered = drive(function, issuer, port);
        assertThat(answered).hasSize(CLIENTS * REQUESTS_PER_CLIENT);

        // Every line is written by the time its request is answered, not at shutdown: all of
        // them reach the reader while the function still runs.
        Instant deadline = Instant.now().plus(DEADLINE);
        while (decisions(stdout).size() < answered.size() && Instant.now().isBefore(deadline)) {
          function.jvm.exitedWithin(Duration.ofMillis(20)); // the pause between two polls
        }
        assertThat(decisions(stdout)).hasSize(answered.size());

        // SIGTERM through the handle (Process.destroy() would close our end of the pipe), then
        // read to the end: still exactly one line per answered request.
        assertThat(function.jvm.process().toHandle().destroy()).isTrue();
        function.jvm.awaitExit(DEADLINE);
        reading.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);

        for (String line : stdout) {
          assertWithMessage("every stdout line is one whole JSON object")
              .that(line)
              .startsWith("{");
          JsonParser.parseString(line).getAsJsonObject();
        }
        List<JsonObject> decisions = decisions(stdout);
        Map<String, Integer> logged = new ConcurrentHashMap<>();
        for (JsonObject decision : decisions) {
          String path = decision.get("path").getAsString();
          assertWithMessage("one line for %s", path)
              .that(logged.put(path, decision.get("status").getAsInt()))
              .isNull();
          assertThat(decision.get("severity").getAsString())
              .isEqualTo(decision.get("status").getAsInt() == 200 ? "INFO" : "WARNING");
        }
        assertThat(logged).containsExactlyEntriesIn(answered);
      }
    }
  }

  @Test
  void stdoutReaderGone_concurrentRequestsStillAnsweredAsTheirTokensDeserve() throws Exception {
    try (TestIssuer issuer = TestIssuer.start()) {
      int port = ChildJvm.freePort();
      try (RunningFunction function =
          RunningFunction.startWithStdoutPipe(port, env(issuer, port))) {
        function.jvm.process().getInputStream().close(); // every write now fails with EPIPE

        Map<String, Integer> answered = drive(function, issuer, port);

        assertThat(answered).hasSize(CLIENTS * REQUESTS_PER_CLIENT);
        assertThat(new HashSet<>(answered.values())).containsExactly(200, 401, 403);
        assertThat(function.jvm.isAlive()).isTrue();
        assertThat(function.jvm.stderr()).doesNotContain("\tat "); // no stack trace
      }
    }
  }

  private static Map<String, String> env(TestIssuer issuer, int port) {
    return Map.of(
        "ALLOWED_INVOKERS",
        ALICE,
        "EXPECTED_AUDIENCES",
        RunningFunction.audience(port),
        "JWKS_URL",
        issuer.jwksUri().toString(),
        "TOKEN_ISSUERS",
        issuer.issuer());
  }

  /**
   * {@value #CLIENTS} clients, each on its own connection, send {@value #REQUESTS_PER_CLIENT}
   * requests each, in turn valid (200), a stranger's (403) and without a token (401), every one to
   * a path of its own; each status is checked against what the request deserves.
   *
   * @return the status of each path
   */
  private static Map<String, Integer> drive(RunningFunction function, TestIssuer issuer, int port)
      throws Exception {
    String audience = RunningFunction.audience(port);
    String valid = issuer.mint(ALICE, audience);
    String stranger = issuer.mint(STRANGER, audience);
    Map<String, Integer> answered = new ConcurrentHashMap<>();
    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
    try {
      List<Future<?>> clients = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        int client = c;
        clients.add(
            pool.submit(
                () -> {
                  HttpClient http =
                      HttpClient.newBuilder()
                          .version(HttpClient.Version.HTTP_1_1)
                          .connectTimeout(Duration.ofSeconds(5))
                          .build();
                  for (int r = 0; r < REQUESTS_PER_CLIENT; r++) {
                    String path = "/c" + client + "/r" + r;
                    HttpRequest.Builder request =
                        HttpRequest.newBuilder(function.uri(path))
                            .timeout(Duration.ofSeconds(30))
                            .GET();
                    int expected =
                        switch ((client + r) % 3) {
                          case 0 -> {
                            request.header("Authorization", "Bearer " + valid);
                            yield 200;
                          }
                          case 1 -> {
                            request.header("Authorization", "Bearer " + stranger);
                            yield 403;
                          }
                          default -> 401;
                        };
                    int status =
                        http.send(request.build(), HttpResponse.BodyHandlers.discarding())
                            .statusCode();
                    assertWithMessage(path).that(status).isEqualTo(expected);
                    answered.put(path, status);
                  }
                  return null;
                }));
      }
      for (Future<?> client : clients) {
        client.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    return answered;
  }

  /** The decision lines among {@code stdout}, parsed (the key health lines have no decision). */
  private static List<JsonObject> decisions(List<String> stdout) {
    List<JsonObject> decisions = new ArrayList<>();
    for (String line : stdout) {
      if (line.contains("\"decision\"")) {
        decisions.add(JsonParser.parseString(line).getAsJsonObject());
      }
    }
    return decisions;
  }
}
