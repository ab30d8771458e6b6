package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.standin.DeployedFunction;
import dev.invokerguard.testing.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The real client, {@code client/target/invoke.jar}, calling a deployed function as the journeys'
 * callers do.
 */
final class InvokeJar {
  /** What one run of the jar gave. */
  record Invocation(int exitCode, String stdout, String stderr) {}

  private InvokeJar() {}

  /**
   * Runs {@code java -jar client/target/invoke.jar FRONT_END --audience URL}, the audience being
   * the function's last expected audience, with {@code credentials} (the variables that tell
   * google-auth-library where tokens come from) and an empty {@code CLOUDSDK_CONFIG} under {@code
   * temp}, so that nothing falls back to the user's gcloud login.
   */
  static Invocation call(DeployedFunction function, Path temp, Map<String, String> credentials)
      throws Exception {
    Path jar = Tools.repositoryRoot().resolve("client/target/invoke.jar");
    assertWithMessage("%s: build it with ./mvnw -pl client -am package", jar)
        .that(Files.isRegularFile(jar))
        .isTrue();
    Path emptyConfig = Files.createDirectories(temp.resolve("client-gcloud-config"));
    String audience = function.audiences().get(function.audiences().size() - 1);
    try (ChildJvm client =
        ChildJvm.builder("dev.invokerguard.client.Invoke")
            .classpath(jar.toString())
            .env(credentials)
            .env("CLOUDSDK_CONFIG", emptyConfig.toString())
            .args(function.frontEnd().toString(), "--audience", audience)
            .start()) {
      int exit = client.awaitExit(Duration.ofSeconds(90));
      return new Invocation(exit, client.stdout(), client.stderr());
    }
  }
}
