package dev.invokerguard.benchmarks;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * CI's short run of the benchmarks: proves that every benchmark still sets up (including the
 * setup's check that each verifier accepts a good token and rejects a tampered one) and produces a
 * score. Not a measurement: one tiny iteration each, in this JVM, on a small pool.
 */
class BenchmarkSmokeTest {
  private static final String[] BENCHMARKS = {
    "rawJdkRsaVerify",
    "oursMissCacheOff",
    "oursMissCacheOn",
    "oursHit",
    "oursHitFromHeaders",
    "googleApiClientVerifier",
    "googleAuthTokenVerifier",
  };

  private static final Path RESULT = Path.of("target", "jmh-smoke.json");

  @Test
  void everyBenchmark_runsAndProducesAScore() throws Exception {
    Options options =
        new OptionsBuilder()
            .include(VerifierBenchmark.class.getName() + "\\.")
            .param("poolSize", "24")
            .forks(0) // in this JVM: a fork would cost a JVM start per benchmark
            .warmupIterations(1)
            .warmupTime(TimeValue.milliseconds(100))
            .measurementIterations(1)
            .measurementTime(TimeValue.milliseconds(200))
            .timeout(TimeValue.seconds(60))
            .shouldFailOnError(true)
            // JMH's report goes to a file, not into CI's log.
            .output(Path.of("target", "jmh-smoke.txt").toString())
            .result(RESULT.toString())
            .resultFormat(ResultFormatType.JSON)
            .build();

    Collection<RunResult> results = new Runner(options).run();

    Map<String, Double> scores = new TreeMap<>();
    for (RunResult result : results) {
      String name = result.getParams().getBenchmark();
      scores.put(name.substring(name.lastIndexOf('.') + 1), result.getPrimaryResult().getScore());
    }
    assertThat(scores.keySet()).containsExactlyElementsIn(BENCHMARKS);
    for (Map.Entry<String, Double> score : scores.entrySet()) {
      assertWithMessage(score.getKey()).that(score.getValue()).isGreaterThan(0.0);
    }
    assertThat(results.iterator().next().getParams().getTimeUnit()).isEqualTo(TimeUnit.SECONDS);
    // The ratio table reads the same file that run-all.sh makes.
    assertThat(Ratios.read(RESULT).keySet()).containsExactlyElementsIn(BENCHMARKS);
  }
}
