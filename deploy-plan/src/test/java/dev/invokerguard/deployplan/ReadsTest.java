package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A failed gcloud read, settled by the next planner step: absent, a refusal naming the alpha
 * component (exit 2), or a stop with gcloud's error (exit 1).
 */
class ReadsTest {
  private static final List<String> DESCRIBE =
      List.of("functions", "describe", "invoker-guard", "--region=europe-west1", "--format=json");

  /** What deploy.sh stores for a failed read: the read with gcloud's error output added. */
  private static JsonObject failed(String fact, String absent, String error) {
    JsonObject read =
        JsonParser.parseString(Reads.read(fact, null, DESCRIBE, absent)).getAsJsonObject();
    read.addProperty("error", error);
    return read;
  }

  private static Facts facts(JsonObject failed) {
    JsonObject facts = new JsonObject();
    facts.add(failed.get("fact").getAsString(), failed);
    return Facts.of(facts);
  }

  @Test
  void read_isTheFactTheKeyAndTheArgumentsAsGiven() {
    assertThat(Reads.read("metrics", "m", List.of("logging", "metrics", "describe", "m"), null))
        .isEqualTo(
            "{\"fact\":\"metrics\",\"key\":\"m\",\"gcloud\":[\"logging\",\"metrics\",\"describe\","
                + "\"m\"]}");
  }

  @Test
  void notFound_isAbsent_whenTheReadSaysSo() {
    for (String error :
        List.of(
            "ERROR: (gcloud.functions.describe) NOT_FOUND: Resource 'x' was not found",
            "ERROR: (gcloud.logging.metrics.describe) Metric m does not exist.",
            "ResponseError: status=[404], code=[Not Found]")) {
      Facts facts = facts(failed("function", Reads.NOT_FOUND_ONLY, error));
      assertThat(facts.get("function").orElseThrow().isJsonNull()).isTrue();
      assertThat(facts.function()).isEmpty();
    }
  }

  @Test
  void notFound_stops_whenTheReadMustSucceed() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> facts(failed("policy", null, "ERROR: NOT_FOUND: no such service")));
    assertThat(e)
        .hasMessageThat()
        .isEqualTo(
            "gcloud functions describe invoker-guard failed: ERROR: NOT_FOUND: no such service");
  }

  @Test
  void anyFailure_isAbsent_forAnOptionalRead() {
    Facts facts =
        facts(failed("service", Reads.ANY_FAILURE, "ERROR: PERMISSION_DENIED: run.services.get"));
    assertThat(facts.string("service")).isEmpty();
  }

  @Test
  void missingAlphaComponent_isARefusalNamingTheInstall() {
    UsageError e =
        assertThrows(
            UsageError.class,
            () ->
                facts(
                    failed(
                        "policies",
                        Reads.NOT_FOUND_ONLY,
                        "ERROR: (gcloud) You do not currently have this command group installed."
                            + " Using it requires the installation of components: [alpha]")));
    assertThat(e)
        .hasMessageThat()
        .isEqualTo(
            "gcloud functions describe invoker-guard needs the gcloud alpha component: gcloud"
                + " components install alpha");
  }

  @Test
  void otherFailure_stopsWithGcloudsError() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () ->
                facts(
                    failed(
                        "function",
                        Reads.NOT_FOUND_ONLY,
                        "ERROR: (gcloud.functions.describe) PERMISSION_DENIED: denied\n")));
    assertThat(e)
        .hasMessageThat()
        .contains("failed: ERROR: (gcloud.functions.describe) PERMISSION_DENIED");
  }

  @Test
  void keyedReads_areSettledOneLevelDown_andSuccessfulReadsKept() {
    JsonObject metrics = new JsonObject();
    metrics.add("m-missing", failed("metrics", Reads.NOT_FOUND_ONLY, "NOT_FOUND"));
    metrics.addProperty("m-there", "{\"name\": \"m-there\"}");
    JsonObject json = new JsonObject();
    json.add("metrics", metrics);

    JsonObject settled = Facts.of(json).object("metrics").orElseThrow();

    assertThat(settled.get("m-missing").isJsonNull()).isTrue();
    assertThat(settled.get("m-there").getAsString()).isEqualTo("{\"name\": \"m-there\"}");
  }

  @Test
  void monitoringReads_everyMetricThenThePoliciesAndDashboards_absentOnlyWhenNotFound() {
    List<String> reads = new Monitoring(TestOptions.of("--monitoring-only")).reads();

    assertThat(reads).hasSize(7);
    assertThat(reads.get(0))
        .isEqualTo(
            "{\"fact\":\"metrics\",\"key\":\"invoker-guard-allowed\",\"gcloud\":[\"logging\","
                + "\"metrics\",\"describe\",\"invoker-guard-allowed\",\"--project=host-proj\","
                + "\"--format=json\"],\"absent\":\"not-found\"}");
    assertThat(reads.get(5)).contains("\"fact\":\"policies\"");
    assertThat(reads.get(6)).contains("\"fact\":\"dashboards\"");
  }
}
