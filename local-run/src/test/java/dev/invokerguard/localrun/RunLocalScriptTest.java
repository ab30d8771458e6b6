package dev.invokerguard.localrun;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code ./run-local.sh} stays shellcheck-clean and strict (CI installs shellcheck). */
class RunLocalScriptTest {
  private static final Path SCRIPT = Path.of("..", "run-local.sh");

  @Test
  void runLocalScript_strictModeAndExecutable() throws Exception {
    String script = Files.readString(SCRIPT, StandardCharsets.UTF_8);

    assertThat(script).startsWith("#!/usr/bin/env bash\n");
    assertThat(script).contains("\nset -euo pipefail\n");
    assertThat(Files.isExecutable(SCRIPT)).isTrue();
  }

  @Test
  void runLocalScript_shellcheckClean() throws Exception {
    assumeTrue(
        new ProcessBuilder("sh", "-c", "command -v shellcheck").start().waitFor() == 0,
        "shellcheck is not installed");
    Process shellcheck =
        new ProcessBuilder("shellcheck", SCRIPT.toString()).redirectErrorStream(true).start();
    String output = new String(shellcheck.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

    assertThat(shellcheck.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(output).isEmpty();
    assertThat(shellcheck.exitValue()).isEqualTo(0);
  }
}
