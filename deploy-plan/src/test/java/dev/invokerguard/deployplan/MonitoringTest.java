package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The monitoring resources and their diff against what gcloud read. */
class MonitoringTest {
  private static Options options(String... extra) {
    List<String> args = new java.util.ArrayList<>(List.of("--monitoring-only"));
    args.addAll(List.of(extra));
    return TestOptions.of(args.toArray(String[]::new));
  }

  private static List<String> verbs(Plan plan) {
    return plan.of("@action ").stream()
        .map(json -> JsonParser.parseString(json).getAsJsonObject().getAsJsonArray("gcloud"))
        .map(
            gcloud ->
                gcloud.get(0).getAsString()
                    + " "
                    + gcloud.asList().stream()
                        .map(word -> word.getAsString())
                        .filter(word -> word.equals("create") || word.equals("update"))
                        .findFirst()
                        .orElseThrow())
        .toList();
  }

  /** What the API answers for a config: a name added, and a label's STRING valueType left out. */
  private static JsonObject answered(JsonObject config, String name) {
    JsonObject answer = config.deepCopy();
    answer.addProperty("name", name);
    answer.getAsJsonObject("metricDescriptor").addProperty("type", "logging.googleapis.com/user/x");
    JsonArray labels = answer.getAsJsonObject("metricDescriptor").getAsJsonArray("labels");
    if (labels != null) {
      labels.forEach(label -> label.getAsJsonObject().remove("valueType"));
    }
    return answer;
  }

  @Test
  void nothingExists_createsFiveMetricsFourPoliciesOneDashboard() {
    Plan plan = new Monitoring(options()).plan(new JsonObject(), "", "[]");

    assertThat(plan.of("@action ")).hasSize(10);
    JsonObject first = JsonParser.parseString(plan.of("@action ").get(0)).getAsJsonObject();
    assertThat(first.getAsJsonArray("gcloud").toString())
        .isEqualTo(
            "[\"logging\",\"metrics\",\"create\",\"invoker-guard-allowed\","
                + "\"--project=host-proj\",\"--config-from-file=@CONFIG\"]");
    assertThat(first.getAsJsonObject("config").get("filter").getAsString())
        .isEqualTo(
            "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"invoker-guard\""
                + " AND jsonPayload.decision=\"allow\"");
    assertThat(plan.of("@info "))
        .containsExactly(
            "",
            "Monitoring of invoker-guard: log-based metrics, alert policies, dashboard"
                + " (docs/FUNCTION.md, Monitoring)",
            "Monitoring: 10 change(s) attempted, 0 already up to date.")
        .inOrder();
  }

  @Test
  void secondRun_everythingAsTheApiAnswersIt_changesNothing() {
    Monitoring monitoring = new Monitoring(options("--notification-channel", "42"));
    JsonObject metrics = new JsonObject();
    for (String suffix : Monitoring.METRICS.keySet()) {
      String name = monitoring.metricName(suffix);
      metrics.addProperty(name, answered(monitoring.metricConfig(suffix), name).toString());
    }
    JsonArray policies = new JsonArray();
    for (JsonObject policy : monitoring.alertPolicies()) {
      JsonObject answer = policy.deepCopy();
      answer.addProperty("name", "projects/host-proj/alertPolicies/1");
      // The API answers 20.0 for 20, leaves out a trigger of one, and answers its default auto
      // close on a threshold policy that set none.
      JsonObject condition = answer.getAsJsonArray("conditions").get(0).getAsJsonObject();
      if (condition.has("conditionThreshold")) {
        condition.getAsJsonObject("conditionThreshold").remove("trigger");
        if (!answer.has("alertStrategy")) {
          answer.add("alertStrategy", JsonParser.parseString("{\"autoClose\":\"604800s\"}"));
        }
      }
      policies.add(answer);
    }
    JsonObject dashboard = monitoring.dashboard();
    dashboard.addProperty("name", "projects/1/dashboards/abc");
    dashboard.addProperty("etag", "e1");
    JsonArray dashboards = new JsonArray();
    dashboards.add(dashboard);

    Plan plan = monitoring.plan(metrics, policies.toString(), dashboards.toString());

    assertThat(plan.of("@action ")).isEmpty();
    assertThat(plan.of("@info "))
        .contains("Monitoring already up to date: no change (10 checked).");
  }

  @Test
  void changedFilterAndThreshold_updateOnlyThose_dashboardUpdateCarriesTheEtag() {
    Monitoring monitoring = new Monitoring(options("--denied-alert-threshold", "7"));
    JsonObject metrics = new JsonObject();
    JsonObject stale = monitoring.metricConfig("allowed");
    stale.addProperty("filter", "jsonPayload.decision=\"allow\"");
    metrics.addProperty("invoker-guard-allowed", stale.toString());
    metrics.add("invoker-guard-denied", null);
    JsonArray policies = new JsonArray();
    JsonObject old = new Monitoring(options()).alertPolicies().get(1);
    old.addProperty("name", "projects/host-proj/alertPolicies/9");
    policies.add(old);
    policies.add(old.deepCopy());
    JsonObject dashboard = monitoring.dashboard();
    dashboard.addProperty("displayName", "invoker-guard invoker-guard");
    dashboard.add("mosaicLayout", new JsonObject());
    dashboard.addProperty("name", "projects/1/dashboards/abc");
    dashboard.addProperty("etag", "e1");
    JsonArray dashboards = new JsonArray();
    dashboards.add(dashboard);

    Plan plan = monitoring.plan(metrics, policies.toString(), dashboards.toString());

    assertThat(verbs(plan))
        .containsExactly(
            "logging update",
            "logging create",
            "logging create",
            "logging create",
            "logging create",
            "alpha create",
            "alpha update",
            "alpha create",
            "alpha create",
            "monitoring update")
        .inOrder();
    assertThat(plan.of("@warn "))
        .containsExactly(
            "2 alert policies are named 'invoker-guard invoker-guard: denials rising': only the"
                + " first is kept up to date");
    JsonObject update = JsonParser.parseString(plan.of("@action ").get(9)).getAsJsonObject();
    assertThat(update.getAsJsonArray("gcloud").get(3).getAsString()).isEqualTo("abc");
    assertThat(update.getAsJsonObject("config").get("etag").getAsString()).isEqualTo("e1");
  }

  @Test
  void listThatIsNotAList_failsClosed() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> new Monitoring(options()).plan(new JsonObject(), "{}", "[]"));
    assertThat(e).hasMessageThat().contains("did not print a JSON list");
  }

  @Test
  void gen1_scopesTheFunction_andTheWindowIsTheAlignmentPeriod() {
    Monitoring monitoring = new Monitoring(options("--gen1", "--alert-window-minutes", "15"));

    assertThat(monitoring.logScope())
        .isEqualTo(
            "resource.type=\"cloud_function\" AND resource.labels.function_name=\"invoker-guard\"");
    assertThat(monitoring.alertPolicies().get(0).toString())
        .contains("\"alignmentPeriod\":\"900s\"");
  }
}
