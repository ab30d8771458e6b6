package dev.invokerguard.deploytest;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Locates the repository and the command-line tools the script tests depend on. */
final class Tools {
  private Tools() {}

  /** The repository root: the parent of this module's base directory. */
  static Path repositoryRoot() {
    return Path.of(System.getProperty("basedir", System.getProperty("user.dir")))
        .toAbsolutePath()
        .getParent();
  }

  /**
   * Skips the calling test when {@code tool} is not on PATH, except on CI (env var {@code CI} set),
   * where a missing tool must fail loudly instead of silently skipping the check.
   */
  static void requireInstalled(String tool) {
    if (isInstalled(tool)) {
      return;
    }
    String message =
        tool + " is not installed: install it (Debian: apt-get install -y " + tool + ")";
    if (System.getenv("CI") != null) {
      fail(message);
    }
    Assumptions.assumeTrue(false, message);
  }

  /** The planner deploy.sh runs, as the reactor's deploy-plan module packaged it. */
  static Path plannerJar() {
    Path jar = repositoryRoot().resolve("deploy-plan/target/deploy-plan.jar");
    if (!java.nio.file.Files.isRegularFile(jar)) {
      throw new AssertionError(jar + " is missing: build with ./mvnw -pl deploy-test -am verify");
    }
    return jar;
  }

  /** The executable named {@code tool} on PATH. */
  static Path which(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path candidate = Path.of(dir, tool);
      if (java.nio.file.Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new AssertionError(tool + " not found on PATH");
  }

  static boolean isInstalled(String tool) {
    try {
      Process process =
          new ProcessBuilder("bash", "-c", "command -v \"$1\"", "bash", tool)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        return false;
      }
      return process.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
