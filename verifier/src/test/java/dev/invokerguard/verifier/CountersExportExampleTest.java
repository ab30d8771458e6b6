package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.TestIssuer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The export example of docs/FUNCTION.md ("Counters"), compiled and run: a verifier's counters in
 * the Prometheus text format. The method below is the documentation's, character for character (the
 * test checks that the document still holds it), so an example that no longer compiles or says
 * something else fails here.
 */
class CountersExportExampleTest {
  private static final String AUDIENCE = "https://fn.example/api";
  private static final String CLIENT = "api-client@client-project.iam.gserviceaccount.com";
  private static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";

  // --- docs/FUNCTION.md, "Counters" (kept identical; see documentedExample_isThisOne) ---
  static String prometheusText(VerifierStats stats) {
    StringBuilder text = new StringBuilder();
    line(text, "invoker_guard_allowed_total", stats.allowed());
    for (Map.Entry<Reason, Long> rejected : stats.rejected().entrySet()) {
      String reason = rejected.getKey().name();
      line(text, "invoker_guard_rejected_total{reason=\"" + reason + "\"}", rejected.getValue());
    }
    line(text, "invoker_guard_token_cache_hits_total", stats.tokenCacheHits());
    line(text, "invoker_guard_token_cache_misses_total", stats.tokenCacheMisses());
    for (Map.Entry<KeyFetchOutcome, Long> fetches : stats.keyFetches().entrySet()) {
      String outcome = fetches.getKey().name();
      line(
          text, "invoker_guard_key_fetches_total{outcome=\"" + outcome + "\"}", fetches.getValue());
    }
    if (stats.keySetAge().isPresent()) {
      line(text, "invoker_guard_key_set_age_seconds", stats.keySetAge().get().toSeconds());
    }
    return text.toString();
  }

  static void line(StringBuilder text, String name, long value) {
    text.append(name).append(' ').append(value).append('\n');
  }

  // --- end of the documented example ---

  @Test
  void prometheusText_ofARealVerifier_countsWhatHappened() throws Exception {
    try (TestIssuer issuer = TestIssuer.start();
        CallerVerifier verifier =
            CallerVerifier.builder()
                .expectedAudiences(AUDIENCE)
                .allowlist(ServiceAccountAllowlist.parse(CLIENT))
                .jwksUri(issuer.jwksUri())
                .keyFetchTimeout(Duration.ofSeconds(5))
                .build()) {
      verifier.prefetchKeys().get(30, TimeUnit.SECONDS);
      String token = issuer.mint(CLIENT, AUDIENCE);
      verifier.verify(Map.of("Authorization", List.of("Bearer " + token)));
      verifier.verify(Map.of("Authorization", List.of("Bearer " + token)));
      assertThrows(
          CallerRejectedException.class,
          () ->
              verifier.verify(
                  Map.of("Authorization", List.of("Bearer " + issuer.mint(STRANGER, AUDIENCE)))));

      String text = prometheusText(verifier.stats());

      assertThat(text).contains("invoker_guard_allowed_total 2\n");
      assertThat(text).contains("invoker_guard_rejected_total{reason=\"CALLER_NOT_ALLOWED\"} 1\n");
      assertThat(text).contains("invoker_guard_rejected_total{reason=\"EXPIRED\"} 0\n");
      assertThat(text).contains("invoker_guard_token_cache_hits_total 1\n");
      assertThat(text).contains("invoker_guard_token_cache_misses_total 2\n");
      assertThat(text).contains("invoker_guard_key_fetches_total{outcome=\"SUCCESS\"} 1\n");
      assertThat(text).containsMatch("invoker_guard_key_set_age_seconds \\d+\n");
    }
  }

  @Test
  void documentedExample_isThisOne() throws Exception {
    String doc = Files.readString(Path.of("..", "docs", "FUNCTION.md"));
    String source =
        Files.readString(
            Path.of("src/test/java/dev/invokerguard/verifier/CountersExportExampleTest.java"));
    String method = between(source, "// --- docs/FUNCTION.md", "  // --- end");
    String body = method.substring(method.indexOf('\n') + 1);
    // The documentation shows it unindented; here it is indented by two spaces.
    String unindented =
        body.lines()
            .map(l -> l.startsWith("  ") ? l.substring(2) : l)
            .reduce("", (a, b) -> a + b + "\n");
    assertThat(doc).contains(unindented.strip() + "\n");
  }

  private static String between(String text, String start, String end) {
    int from = text.indexOf(start);
    int to = text.indexOf(end, from);
    return text.substring(from, to);
  }
}
