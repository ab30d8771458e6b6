package dev.invokerguard.guard;

import static com.google.common.truth.Truth.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TraceContextTest {
  private static final String TRACE = "105445aa7843bc8bf206b12000100000";

  @Test
  void cloudTrace_fullForm_traceSpanInHexAndSampled() {
    Optional<TraceContext> trace = TraceContext.parseCloudTrace(TRACE + "/1;o=1");

    assertThat(trace).hasValue(new TraceContext(TRACE, "0000000000000001", true));
  }

  @Test
  void cloudTrace_largestSpan_convertedUnsigned() {
    Optional<TraceContext> trace =
        TraceContext.parseCloudTrace(TRACE + "/18446744073709551615;o=0");

    assertThat(trace).hasValue(new TraceContext(TRACE, "ffffffffffffffff", false));
  }

  @Test
  void cloudTrace_traceOnlyUpperCase_lowerCasedWithoutSpan() {
    Optional<TraceContext> trace = TraceContext.parseCloudTrace(TRACE.toUpperCase());

    assertThat(trace).hasValue(new TraceContext(TRACE, null, false));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "abc/1;o=1",
        "00000000000000000000000000000000/1;o=1",
        "105445aa7843bc8bf206b12000100000/18446744073709551616;o=1",
        "105445aa7843bc8bf206b12000100000/x;o=1",
        "105445aa7843bc8bf206b12000100000z",
        "105445aa7843bc8bf206b12000100000/1;o=1;extra"
      })
  void cloudTrace_malformed_ignored(String value) {
    assertThat(TraceContext.parseCloudTrace(value)).isEmpty();
  }

  @Test
  void traceparent_version00_parsed() {
    Optional<TraceContext> trace =
        TraceContext.parseTraceparent("00-" + TRACE + "-00f067aa0ba902b7-01");

    assertThat(trace).hasValue(new TraceContext(TRACE, "00f067aa0ba902b7", true));
  }

  @Test
  void traceparent_notSampled_flagRead() {
    assertThat(
            TraceContext.parseTraceparent("00-" + TRACE + "-00f067aa0ba902b7-00").get().sampled())
        .isFalse();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "ff-105445aa7843bc8bf206b12000100000-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-105445aa7843bc8bf206b12000100000-0000000000000000-01",
        "00-105445AA7843BC8BF206B12000100000-00f067aa0ba902b7-01",
        "00-105445aa7843bc8bf206b12000100000-00f067aa0ba902b7-01-extra",
        "00-105445aa7843bc8bf206b1200010000-00f067aa0ba902b7-01",
        "garbage"
      })
  void traceparent_malformed_ignored(String value) {
    assertThat(TraceContext.parseTraceparent(value)).isEmpty();
  }

  @Test
  void of_bothHeaders_cloudTraceContextWins() {
    Map<String, List<String>> headers =
        Map.of(
            "x-cloud-trace-context", List.of(TRACE + "/1;o=1"),
            "Traceparent", List.of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));

    assertThat(TraceContext.of(headers).get().traceId()).isEqualTo(TRACE);
  }

  @Test
  void of_malformedCloudTrace_fallsBackToTraceparent() {
    Map<String, List<String>> headers =
        Map.of(
            "X-Cloud-Trace-Context", List.of("nonsense"),
            "traceparent", List.of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));

    assertThat(TraceContext.of(headers).get().traceId())
        .isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
  }

  @Test
  void of_noTraceHeader_empty() {
    assertThat(TraceContext.of(Map.of("Accept", List.of("*/*")))).isEmpty();
  }

  @Test
  void of_repeatedHeader_ignored() {
    Map<String, List<String>> headers =
        Map.of("X-Cloud-Trace-Context", List.of(TRACE + "/1;o=1", TRACE + "/2;o=1"));

    assertThat(TraceContext.of(headers)).isEmpty();
  }

  @Test
  void resourceName_cloudLoggingFormat() {
    assertThat(new TraceContext(TRACE, null, true).resourceName("my-project"))
        .isEqualTo("projects/my-project/traces/" + TRACE);
  }
}
