package dev.invokerguard.function;

import static com.google.common.truth.Truth.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What {@code package} leaves for {@code gcloud functions deploy --source function/target/deploy}.
 */
class DeployJarIT {
  private static List<String> entries;

  @BeforeAll
  static void readJar() throws IOException {
    try (JarFile jar = new JarFile(RunningFunction.deployJar().toFile())) {
      entries = jar.stream().map(e -> e.getName()).toList();
    }
  }

  @Test
  void deployDirectory_holdsExactlyOneJar() throws IOException {
    Path dir = RunningFunction.deployJar().getParent();
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).toList())
          .containsExactly("function.jar");
    }
  }

  @Test
  void deployJar_containsFunctionVerifierAdapterAndTheirDependencies() {
    assertThat(entries)
        .containsAtLeast(
            "dev/invokerguard/function/ProtectedFunction.class",
            "dev/invokerguard/function/SampleApi.class",
            "dev/invokerguard/guard/GuardedFunction.class",
            "dev/invokerguard/guard/GuardConfig.class",
            "dev/invokerguard/verifier/CallerVerifier.class",
            "dev/invokerguard/verifier/JwksKeyCache.class",
            "com/google/gson/Gson.class");
  }

  @Test
  void deployJar_holdsNoHttpLibrary() {
    // The key fetch uses the JDK's HttpURLConnection (cold start, see docs/DESIGN.md); an HTTP
    // library and its tracing and Guava dependencies would only be dead weight to load and scan.
    assertThat(
            entries.stream()
                .filter(
                    e ->
                        e.startsWith("com/google/api/client/")
                            || e.startsWith("io/opencensus/")
                            || e.startsWith("io/grpc/")
                            || e.startsWith("com/google/common/"))
                .toList())
        .isEmpty();
  }

  @Test
  void deployJar_holdsNoTestSupportNorTestCode() {
    assertThat(entries.stream().filter(e -> e.startsWith("dev/invokerguard/testing/")).toList())
        .isEmpty();
    assertThat(
            entries.stream()
                .filter(e -> e.startsWith("dev/invokerguard/"))
                .filter(e -> e.matches(".*(Test|IT|Fake[A-Za-z]*|RunningFunction)(\\$.*)?\\.class"))
                .toList())
        .isEmpty();
    assertThat(entries.stream().filter(e -> e.startsWith("org/junit/")).toList()).isEmpty();
    assertThat(entries.stream().filter(e -> e.startsWith("com/google/common/truth/")).toList())
        .isEmpty();
  }

  @Test
  void deployJar_leavesTheFrameworkToThePlatform() {
    // functions-framework-api is provided by the runtime; a second copy could clash with it.
    assertThat(entries.stream().filter(e -> e.startsWith("com/google/cloud/functions/")).toList())
        .isEmpty();
    assertThat(entries.stream().filter(e -> e.startsWith("org/eclipse/jetty/")).toList()).isEmpty();
  }
}
