package dev.invokerguard.standin;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The real {@code gcloud} CLI pointed at a {@link GoogleStandIn}: a throwaway configuration
 * directory ({@code CLOUDSDK_CONFIG}, so the user's own is never read or written), every API
 * overridden to the stand-in, no prompts, no update checks, no usage reporting, no metadata-server
 * probe, and a service account activated from a key the stand-in made. Runs gcloud, or a script
 * that calls it, with exactly that environment.
 */
public final class Gcloud {
  private static final List<String> INHERITED = List.of("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR");

  /** What one command did. */
  public record Result(List<String> command, int exitCode, String stdout, String stderr) {
    @Override
    public String toString() {
      return String.join(" ", command)
          + "\nexit "
          + exitCode
          + "\n--- stdout\n"
          + stdout
          + "\n--- stderr\n"
          + stderr;
    }
  }

  private final Path dir;
  private final Map<String, String> environment = new LinkedHashMap<>();
  private final String account;

  private Gcloud(Path dir, GoogleStandIn google, String account) {
    this.dir = dir;
    this.account = account;
    Map<String, String> parent = System.getenv();
    for (String name : INHERITED) {
      if (parent.containsKey(name)) {
        environment.put(name, parent.get(name));
      }
    }
    environment.put("CLOUDSDK_CONFIG", dir.resolve("gcloud-config").toString());
    environment.put("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
    environment.put("CLOUDSDK_CORE_CHECK_GCE_METADATA", "false");
    environment.put("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "1");
    environment.put("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "1");
    environment.put("CLOUDSDK_SURVEY_DISABLE_PROMPTS", "1");
    // A metadata server no one listens on: nothing may fall back to a real one. Without
    // GCE_METADATA_ROOT, `gcloud auth activate-service-account` resolves metadata.google.internal
    // (a DNS query off the machine, seen with strace); the three cover gcloud and google-auth.
    for (String name : List.of("GCE_METADATA_ROOT", "GCE_METADATA_HOST", "GCE_METADATA_IP")) {
      environment.put(name, "127.0.0.1:9");
    }
    environment.putAll(google.gcloudEnvironment());
  }

  /** The gcloud executable on PATH, if any. */
  public static Optional<Path> find() {
    for (String entry : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path candidate = Path.of(entry.isEmpty() ? "." : entry, "gcloud");
      if (Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  /**
   * Makes a configuration in {@code dir} and activates {@code account} with a key the stand-in
   * made.
   *
   * @throws IllegalStateException when the activation fails
   */
  public static Gcloud activate(Path dir, GoogleStandIn google, String account)
      throws IOException, InterruptedException {
    Files.createDirectories(dir.resolve("gcloud-config"));
    Gcloud gcloud = new Gcloud(dir, google, account);
    Path key = google.writeServiceAccountKey(account, dir.resolve("deployer-key.json"));
    Result result =
        gcloud.run(
            List.of("gcloud", "auth", "activate-service-account", "--key-file=" + key),
            Map.of(),
            Duration.ofSeconds(60));
    if (result.exitCode() != 0) {
      throw new IllegalStateException("gcloud auth activate-service-account failed\n" + result);
    }
    return gcloud;
  }

  /** The active account. */
  public String account() {
    return account;
  }

  /** The environment every command gets. */
  public Map<String, String> environment() {
    return Map.copyOf(environment);
  }

  /** Runs {@code gcloud ARGS...}. */
  public Result gcloud(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add("gcloud");
    command.addAll(List.of(args));
    return run(command, Map.of(), Duration.ofSeconds(120));
  }

  /**
   * Runs {@code command} with this environment plus {@code extra}, stopping it (and every process
   * it started) after {@code timeout}.
   */
  public Result run(List<String> command, Map<String, String> extra, Duration timeout)
      throws IOException, InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().clear();
    builder.environment().putAll(environment);
    builder.environment().putAll(extra);
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    builder.redirectOutput(out.toFile()).redirectError(err.toFile());
    builder.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
    Process process = builder.start();
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException(
            String.join(" ", command)
                + " did not finish within "
                + timeout
                + "\n--- stdout\n"
                + Files.readString(out)
                + "\n--- stderr\n"
                + Files.readString(err));
      }
    } finally {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
    return new Result(command, process.exitValue(), Files.readString(out), Files.readString(err));
  }
}
