package dev.invokerguard.benchmarks;

import static com.google.common.truth.Truth.assertWithMessage;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The suite's scripts stay shellcheck clean (CI installs shellcheck, see .ci/run). */
class ScriptsShellcheckTest {

  @ParameterizedTest
  @ValueSource(strings = {"load.sh", "run-all.sh"})
  void script_isShellcheckCleanAndExecutable(String name) throws Exception {
    Path script = Path.of(name); // surefire runs in the module directory
    assertWithMessage("%s is executable", script).that(Files.isExecutable(script)).isTrue();
    Process process =
        new ProcessBuilder("shellcheck", "--shell=bash", script.toString())
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertWithMessage("shellcheck timed out").that(process.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertWithMessage("shellcheck %s:%n%s", script, output).that(process.exitValue()).isEqualTo(0);
  }
}
