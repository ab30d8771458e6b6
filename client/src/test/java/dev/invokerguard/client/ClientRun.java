package dev.invokerguard.client;

import dev.invokerguard.testing.ChildJvm;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs a client program to completion in a child JVM with a controlled environment.
 * google-auth-library reads {@code GCE_METADATA_HOST} and {@code GOOGLE_APPLICATION_CREDENTIALS}
 * from the process environment, which a running JVM cannot change, so tests of the real credential
 * lookup run in a child. The child's environment holds only what the test gives it (see {@link
 * ChildJvm}) and an empty gcloud configuration, so no real credentials of this machine are found.
 */
final class ClientRun {

  private static final Duration TIMEOUT = Duration.ofSeconds(90);

  /** What the child did. */
  record Result(int exitCode, String stdout, String stderr) {
    /** Returns the {@code key=value} lines of stdout, the first occurrence of each key. */
    Map<String, String> values() {
      Map<String, String> values = new LinkedHashMap<>();
      for (String line : stdout.split("\n")) {
        int equals = line.indexOf('=');
        if (equals > 0) {
          values.putIfAbsent(line.substring(0, equals), line.substring(equals + 1).strip());
        }
      }
      return values;
    }

    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
    }
  }

  private ClientRun() {}

  /**
   * Runs {@code main} with this JVM's class path.
   *
   * @param gcloudConfig an empty directory, the child's gcloud configuration
   */
  static Result main(Class<?> main, Path gcloudConfig, Map<String, String> env, String... args) {
    return run(ChildJvm.builder(main.getName()), gcloudConfig, env, args);
  }

  /** Runs the CLI with nothing but {@code jar} on the class path. */
  static Result jar(Path jar, Path gcloudConfig, Map<String, String> env, String... args) {
    return run(
        ChildJvm.builder(Invoke.class.getName()).classpath(jar.toString()),
        gcloudConfig,
        env,
        args);
  }

  private static Result run(
      ChildJvm.Builder builder, Path gcloudConfig, Map<String, String> env, String... args) {
    try (ChildJvm child =
        builder.env("CLOUDSDK_CONFIG", gcloudConfig.toString()).env(env).args(args).start()) {
      int exitCode = child.awaitExit(TIMEOUT);
      return new Result(exitCode, child.stdout(), child.stderr());
    }
  }
}
