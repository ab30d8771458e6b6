package dev.invokerguard.function;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.ChildJvm;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The deployable jar ({@code target/deploy/function.jar}) served by the real Functions Framework
 * invoker in a child JVM, as Cloud Functions runs it: the invoker on the classpath, the function
 * loaded from the jar through {@code --classpath}.
 */
final class RunningFunction implements AutoCloseable {
  static final String TARGET = "dev.invokerguard.function.ProtectedFunction";
  static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  final int port;
  final ChildJvm jvm;

  private RunningFunction(int port, ChildJvm jvm) {
    this.port = port;
    this.jvm = jvm;
  }

  /** The jar that {@code package} built for deployment; failsafe passes its path. */
  static Path deployJar() {
    String path = System.getProperty("invokerguard.deployJar");
    if (path == null || !Files.isRegularFile(Path.of(path))) {
      throw new IllegalStateException(
          "no deployable jar at " + path + ": run the integration tests with `mvn verify`");
    }
    return Path.of(path);
  }

  /** Starts the invoker without waiting for it, e.g. to watch it refuse a configuration. */
  static RunningFunction launch(int port, Map<String, String> env) {
    return launch(
        ChildJvm.functionsInvoker(TARGET, port).args("--classpath", deployJar().toString()),
        port,
        env);
  }

  /** Starts the deployable jar's function and waits until it listens. */
  static RunningFunction start(int port, Map<String, String> env) {
    return awaitListening(launch(port, env));
  }

  /**
   * Starts the deployable jar's function with its stdout a pipe that the test reads from {@code
   * jvm.process().getInputStream()}, as the platform's log collector reads it, and waits until it
   * listens.
   */
  static RunningFunction startWithStdoutPipe(int port, Map<String, String> env) {
    return awaitListening(
        launch(
            ChildJvm.functionsInvoker(TARGET, port)
                .args("--classpath", deployJar().toString())
                .pipeStdout(),
            port,
            env));
  }

  /**
   * Starts {@code target} from the test classpath (not the deployable jar) and waits until it
   * listens: for functions that exist only in tests, such as the documentation's example.
   */
  static RunningFunction startFromTestClasspath(String target, int port, Map<String, String> env) {
    return awaitListening(launch(ChildJvm.functionsInvoker(target, port), port, env));
  }

  private static RunningFunction launch(
      ChildJvm.Builder invoker, int port, Map<String, String> env) {
    return new RunningFunction(port, invoker.env(env).start());
  }

  private static RunningFunction awaitListening(RunningFunction function) {
    try {
      function.jvm.awaitPort(function.port, START_TIMEOUT);
    } catch (RuntimeException e) {
      function.close();
      throw e;
    }
    return function;
  }

  URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  /** The audience callers of this function use: its local URL. */
  static String audience(int port) {
    return "http://127.0.0.1:" + port;
  }

  HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
    return CLIENT.send(
        request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpRequest.Builder get(String path) {
    return HttpRequest.newBuilder(uri(path)).GET();
  }

  /** The key health lines the function wrote on stdout so far, parsed, in order. */
  List<JsonObject> keyHealthLines() {
    List<JsonObject> lines = new ArrayList<>();
    for (String line : jvm.stdout().split("\n")) {
      if (line.startsWith("{") && line.contains("\"keyHealth\"")) {
        lines.add(JsonParser.parseString(line).getAsJsonObject());
      }
    }
    return lines;
  }

  /** The {@code keyHealth} values of {@link #keyHealthLines()}, in order. */
  List<String> keyHealthStates() {
    List<String> states = new ArrayList<>();
    for (JsonObject line : keyHealthLines()) {
      states.add(line.get("keyHealth").getAsString());
    }
    return states;
  }

  @Override
  public void close() {
    jvm.close();
  }
}
