package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertWithMessage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * deploy.sh, client-setup.sh and the fake gcloud stay shellcheck clean (the quality bar).
 */
class ShellcheckTest {

  @Test
  void deployScript_isShellcheckClean() throws Exception {
    assertShellcheckClean(Tools.repositoryRoot().resolve("deploy.sh"));
  }

  @Test
  void clientSetupScript_isShellcheckClean() throws Exception {
    assertShellcheckClean(Tools.repositoryRoot().resolve("client-setup.sh"));
  }

  @Test
  void fakeGcloud_isShellcheckClean() throws Exception {
    assertShellcheckClean(
        Tools.repositoryRoot()
            .resolve("deploy-test/src/test/resources/dev/invokerguard/deploytest/fake-gcloud"));
  }

  private static void assertShellcheckClean(Path script) throws IOException, InterruptedException {
    Tools.requireInstalled("shellcheck");
    Process process =
        new ProcessBuilder("shellcheck", "--shell=bash", script.toString())
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertWithMessage("shellcheck timed out").that(process.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertWithMessage("shellcheck %s:%n%s", script, output).that(process.exitValue()).isEqualTo(0);
  }
}
