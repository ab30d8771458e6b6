package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Logging query evaluator the monitoring filter tests rely on. */
class LoggingFilterTest {
  private static JsonObject entry(String json) {
    return JsonParser.parseString(json).getAsJsonObject();
  }

  private static final JsonObject DENY =
      entry(
          "{\"resource\":{\"type\":\"cloud_run_revision\",\"labels\":{\"service_name\":\"fn\"}},"
              + "\"jsonPayload\":{\"decision\":\"deny\",\"reason\":\"EXPIRED\"}}");

  @Test
  void orBindsTighterThanAnd_asGoogleDocumentsIt() {
    // a OR NOT b AND NOT c OR d  ==  (a OR (NOT b)) AND ((NOT c) OR d)
    String filter =
        "jsonPayload.decision=\"allow\" OR NOT jsonPayload.reason=\"EXPIRED\""
            + " AND NOT resource.type=\"cloud_run_revision\" OR jsonPayload.decision=\"deny\"";
    // (false OR false) AND (false OR true) = false; with AND tighter it would be true.
    assertThat(LoggingFilter.parse(filter).matches(DENY)).isFalse();
  }

  @Test
  void comparisons_caseInsensitive_missingFieldIsFalse_notNegatesIt() {
    assertThat(LoggingFilter.parse("jsonPayload.decision=\"DENY\"").matches(DENY)).isTrue();
    assertThat(LoggingFilter.parse("jsonPayload.caller=\"x\"").matches(DENY)).isFalse();
    assertThat(LoggingFilter.parse("NOT jsonPayload.caller=\"x\"").matches(DENY)).isTrue();
    assertThat(
            LoggingFilter.parse(
                    "resource.labels.service_name=\"fn\" AND (jsonPayload.keyHealth=\"UNUSABLE\""
                        + " OR jsonPayload.decision=\"deny\")")
                .matches(DENY))
        .isTrue();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "jsonPayload.status=403",
        "jsonPayload.decision:\"deny\"",
        "jsonPayload.decision!=\"deny\"",
        "jsonPayload.decision=~\"de.*\"",
        "severity>=\"ERROR\"",
        "jsonPayload.decision=\"deny\" jsonPayload.reason=\"EXPIRED\"",
        "(jsonPayload.decision=\"deny\"",
        "\"deny\"",
        "jsonPayload.decision=\"deny"
      })
  void syntaxOutsideTheSubset_throws(String filter) {
    assertThrows(IllegalArgumentException.class, () -> LoggingFilter.parse(filter));
  }

  @Test
  void extract_readsAFieldOrNothing() {
    assertThat(LoggingFilter.extract("EXTRACT(jsonPayload.reason)", DENY)).hasValue("EXPIRED");
    assertThat(LoggingFilter.extract("EXTRACT(jsonPayload.caller)", DENY)).isEmpty();
    assertThrows(
        IllegalArgumentException.class,
        () -> LoggingFilter.extract("REGEXP_EXTRACT(jsonPayload.reason, \"(.*)\")", DENY));
  }
}
