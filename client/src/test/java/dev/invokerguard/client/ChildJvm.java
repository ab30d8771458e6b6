package dev.invokerguard.client;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs Java in a child process with a controlled environment. google-auth-library reads {@code
 * GCE_METADATA_HOST} and {@code GOOGLE_APPLICATION_CREDENTIALS} from the process environment, which
 * a running JVM cannot change, so tests of the real credential lookup run in a child.
 */
final class ChildJvm {

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

  private ChildJvm() {}

  /** Returns the command that runs {@code main} with this JVM's test class path. */
  static List<String> mainClass(Class<?> main, String... args) {
    List<String> command =
        new ArrayList<>(
            List.of(java(), "-cp", System.getProperty("java.class.path"), main.getName()));
    command.addAll(List.of(args));
    return command;
  }

  /** Returns the command that runs an executable jar. */
  static List<String> jar(Path jar, String... args) {
    List<String> command = new ArrayList<>(List.of(java(), "-jar", jar.toString()));
    command.addAll(List.of(args));
    return command;
  }

  /**
   * Runs {@code command} with this process's environment minus every way google-auth-library could
   * find real credentials (key file variable, gcloud configuration, metadata settings), plus {@code
   * env}; {@code gcloudConfig} should be an empty directory.
   */
  static Result run(List<String> command, Path gcloudConfig, Map<String, String> env)
      throws IOException, InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(command);
    Map<String, String> environment = builder.environment();
    environment.remove("GOOGLE_APPLICATION_CREDENTIALS");
    environment.remove("GCE_METADATA_HOST");
    environment.remove("GCE_METADATA_IP");
    environment.remove("NO_GCE_CHECK");
    environment.put("CLOUDSDK_CONFIG", gcloudConfig.toString());
    environment.putAll(env);
    Process process = builder.start();
    CompletableFuture<String> stdout =
        CompletableFuture.supplyAsync(() -> read(process.getInputStream()));
    CompletableFuture<String> stderr =
        CompletableFuture.supplyAsync(() -> read(process.getErrorStream()));
    if (!process.waitFor(90, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("child JVM did not finish in 90 s: " + command);
    }
    return new Result(process.exitValue(), stdout.join(), stderr.join());
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private static String read(InputStream in) {
    try (in) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toString(StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
