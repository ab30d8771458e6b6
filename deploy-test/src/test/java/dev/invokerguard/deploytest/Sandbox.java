package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertWithMessage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A temporary directory in which the real deploy.sh runs against the fake gcloud: {@code bin/}
 * (first on PATH), {@code state/} (canned answers, see the fake's header), {@code gcloud.log} (one
 * line per call) and {@code source/} (a deployable directory with one jar).
 */
final class Sandbox {
  static final String ACCOUNT = "deployer@example.com";

  private final Path bin;
  private final Path state;
  private final Path log;
  private final Path source;

  private Sandbox(Path root) {
    this.bin = root.resolve("bin");
    this.state = root.resolve("state");
    this.log = root.resolve("gcloud.log");
    this.source = root.resolve("source");
  }

  static Sandbox create(Path root) throws IOException {
    Tools.requireInstalled("jq");
    Sandbox sandbox = new Sandbox(root);
    Files.createDirectories(sandbox.bin);
    Files.createDirectories(sandbox.state);
    Files.createDirectories(sandbox.source);
    Path gcloud = sandbox.bin.resolve("gcloud");
    try (InputStream in = Sandbox.class.getResourceAsStream("fake-gcloud")) {
      assertWithMessage("fake-gcloud resource").that(in).isNotNull();
      Files.copy(in, gcloud);
    }
    assertWithMessage("chmod +x fake gcloud").that(gcloud.toFile().setExecutable(true)).isTrue();
    Files.writeString(sandbox.log, "");
    Files.write(sandbox.source.resolve("function.jar"), new byte[] {'P', 'K', 3, 4});
    sandbox.writeState("account", ACCOUNT + "\n");
    return sandbox;
  }

  Path source() {
    return source;
  }

  void writeState(String name, String content) throws IOException {
    Files.writeString(state.resolve(name), content);
  }

  void deleteState(String name) throws IOException {
    Files.deleteIfExists(state.resolve(name));
  }

  String readState(String name) throws IOException {
    return Files.readString(state.resolve(name));
  }

  /** Runs the repository's deploy.sh. */
  Result run(Map<String, String> env, String... args) throws IOException, InterruptedException {
    return runScript(Tools.repositoryRoot().resolve("deploy.sh"), env, args);
  }

  Result run(String... args) throws IOException, InterruptedException {
    return run(Map.of(), args);
  }

  /** Runs a given copy of deploy.sh with {@code bash}, the fake gcloud first on PATH. */
  Result runScript(Path script, Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add("bash");
    command.add(script.toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command);
    Map<String, String> environment = builder.environment();
    // Settings leaking in from the developer's shell would make the tests lie.
    environment.keySet().removeIf(key -> key.startsWith("INVOKER_GUARD_"));
    environment.put("PATH", bin + ":" + environment.getOrDefault("PATH", "/usr/bin:/bin"));
    environment.put("FAKE_GCLOUD_LOG", log.toString());
    environment.put("FAKE_GCLOUD_DIR", state.toString());
    // deploy.sh runs its planner with this JVM's java, even where a test narrows PATH.
    environment.put("JAVA_HOME", System.getProperty("java.home"));
    environment.putAll(new HashMap<>(env));
    Path out = Files.createTempFile(state.getParent(), "stdout", ".txt");
    Path err = Files.createTempFile(state.getParent(), "stderr", ".txt");
    builder.redirectOutput(out.toFile()).redirectError(err.toFile());
    int before = calls().size();
    Process process = builder.start();
    if (!process.waitFor(120, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("deploy.sh did not finish within 120 s");
    }
    List<String> all = calls();
    return new Result(
        process.exitValue(),
        Files.readString(out),
        Files.readString(err),
        List.copyOf(all.subList(before, all.size())));
  }

  private List<String> calls() throws IOException {
    return Files.readAllLines(log, StandardCharsets.UTF_8);
  }

  /** What one run did: exit code, output, and the gcloud calls it made, in order. */
  record Result(int exitCode, String stdout, String stderr, List<String> calls) {

    /** The calls that change something (anything but auth, describe, get-iam-policy and list). */
    List<String> mutatingCalls() {
      return calls.stream().filter(call -> !isRead(call)).toList();
    }

    List<String> callsStartingWith(String prefix) {
      return calls.stream().filter(call -> call.startsWith(prefix)).toList();
    }

    private static boolean isRead(String call) {
      return call.startsWith("auth list")
          || call.startsWith("projects describe ")
          || call.startsWith("iam service-accounts describe ")
          || call.startsWith("config get-value")
          || call.startsWith("functions describe ")
          || call.startsWith("functions get-iam-policy ")
          || call.startsWith("run services get-iam-policy ")
          || call.startsWith("logging metrics describe ")
          || call.startsWith("alpha monitoring policies list ")
          || call.startsWith("monitoring dashboards list ")
          || call.startsWith("run services describe ");
    }

    @Override
    public String toString() {
      return "exit "
          + exitCode
          + "\n--- stdout\n"
          + stdout
          + "--- stderr\n"
          + stderr
          + "--- gcloud calls\n"
          + String.join("\n", calls);
    }
  }
}
