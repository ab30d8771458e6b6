package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The access-change and keys-degraded alerts: their JSON, and their diff against a reread. */
class DriftAlertsTest {
  private static Options options(String... extra) {
    List<String> args = new java.util.ArrayList<>(List.of("--monitoring-only"));
    args.addAll(List.of(extra));
    return TestOptions.of(args.toArray(String[]::new));
  }

  private static DriftAlerts alerts(String... extra) {
    Options options = options(extra);
    return new DriftAlerts(options, new Monitoring(options));
  }

  private static JsonObject onlyCondition(JsonObject policy) {
    JsonArray conditions = policy.getAsJsonArray("conditions");
    assertThat(conditions.size()).isEqualTo(1);
    return conditions.get(0).getAsJsonObject();
  }

  @Test
  void accessChanged_isALogBasedAlert_namingWhoDidIt_withARateLimitAndTheRunbook() {
    JsonObject policy = alerts("--notification-channel", "42").accessChanged();

    assertThat(policy.get("displayName").getAsString())
        .isEqualTo("invoker-guard invoker-guard: access settings changed");
    JsonObject matched = onlyCondition(policy).getAsJsonObject("conditionMatchedLog");
    assertThat(matched.getAsJsonObject("labelExtractors").get("principal").getAsString())
        .isEqualTo("EXTRACT(protoPayload.authenticationInfo.principalEmail)");
    assertThat(matched.getAsJsonObject("labelExtractors").keySet())
        .containsExactly("principal", "method", "resource");
    assertThat(
            policy
                .getAsJsonObject("alertStrategy")
                .getAsJsonObject("notificationRateLimit")
                .get("period")
                .getAsString())
        .isEqualTo("300s");
    assertThat(policy.getAsJsonObject("alertStrategy").get("autoClose").getAsString())
        .isEqualTo("1800s");
    assertThat(policy.getAsJsonObject("documentation").get("content").getAsString())
        .contains("rerun deploy.sh");
    assertThat(policy.getAsJsonArray("notificationChannels").toString())
        .isEqualTo("[\"projects/host-proj/notificationChannels/42\"]");
  }

  @Test
  void auditFilter_gen2_readsTheActivityLog_ofTheFunctionAndItsService_settersOnly() {
    String filter = alerts().auditFilter();

    assertThat(filter)
        .startsWith(
            "logName=\"projects/host-proj/logs/cloudaudit.googleapis.com%2Factivity\" AND ");
    assertThat(filter)
        .contains(
            "protoPayload.resourceName=\"projects/host-proj/locations/europe-west1/services/"
                + "invoker-guard\"");
    assertThat(filter)
        .contains(
            "protoPayload.resourceName=\"projects/host-proj/locations/europe-west1/functions/"
                + "invoker-guard\"");
    assertThat(filter)
        .contains("protoPayload.methodName=\"google.cloud.run.v2.Services.UpdateService\"");
    assertThat(filter).contains("protoPayload.methodName=\"SetIamPolicy\"");
    assertThat(filter).doesNotContain("GetIamPolicy");
  }

  @Test
  void auditFilter_gen1_theFunctionOnly() {
    String filter = alerts("--gen1").auditFilter();

    assertThat(filter).contains("cloudfunctions.googleapis.com");
    assertThat(filter).doesNotContain("run.googleapis.com");
  }

  @Test
  void keysDegraded_aRatioOfDegradedToAllKeyHealthLines_lasting15Minutes() {
    JsonObject policy = alerts().keysDegraded();

    JsonObject threshold = onlyCondition(policy).getAsJsonObject("conditionThreshold");
    String series =
        "metric.type=\"logging.googleapis.com/user/invoker-guard-key-health\" AND"
            + " resource.type=\"cloud_run_revision\"";
    assertThat(threshold.get("filter").getAsString())
        .isEqualTo(series + " AND metric.label.state=one_of(\"FETCH_FAILED\",\"STALE_IN_USE\")");
    assertThat(threshold.get("denominatorFilter").getAsString()).isEqualTo(series);
    assertThat(threshold.get("comparison").getAsString()).isEqualTo("COMPARISON_GE");
    assertThat(threshold.get("thresholdValue").getAsInt()).isEqualTo(1);
    assertThat(threshold.get("duration").getAsString()).isEqualTo("900s");
    // The window outlasts the duration, so that the failure's line is still in it after 15 min.
    assertThat(threshold.toString()).contains("\"alignmentPeriod\":\"1020s\"");
    assertThat(policy.getAsJsonObject("documentation").get("content").getAsString())
        .contains("oauth2/v3/certs");
  }

  @Test
  void keyHealthMetric_countsEveryKeyHealthLine_labelledByState() {
    JsonObject config = new Monitoring(options()).metricConfig(Monitoring.KEY_HEALTH);

    assertThat(config.get("filter").getAsString()).contains("jsonPayload.keyHealth=\"RECOVERED\"");
    assertThat(config.getAsJsonObject("labelExtractors").get("state").getAsString())
        .isEqualTo("EXTRACT(jsonPayload.keyHealth)");
  }

  @Test
  void changedRateLimitOrFilter_updatesThatPolicyOnly_aRereadAsSentChangesNothing() {
    Options options = options();
    Monitoring monitoring = new Monitoring(options);
    List<JsonObject> sent = monitoring.alertPolicies();
    JsonArray policies = new JsonArray();
    for (int i = 0; i < sent.size(); i++) {
      JsonObject answer = sent.get(i).deepCopy();
      answer.addProperty("name", "projects/host-proj/alertPolicies/" + i);
      policies.add(answer);
    }
    JsonObject changed = policies.get(2).getAsJsonObject();
    changed
        .getAsJsonObject("alertStrategy")
        .getAsJsonObject("notificationRateLimit")
        .addProperty("period", "3600s");
    JsonObject stale = policies.get(3).getAsJsonObject();
    onlyCondition(stale).getAsJsonObject("conditionThreshold").addProperty("duration", "60s");

    Plan plan = monitoring.plan(new JsonObject(), policies.toString(), "[]");

    List<String> updates =
        plan.of("@action ").stream()
            .map(json -> JsonParser.parseString(json).getAsJsonObject())
            .filter(action -> action.getAsJsonArray("gcloud").toString().contains("\"update\""))
            .map(action -> action.getAsJsonArray("gcloud").get(4).getAsString())
            .toList();
    assertThat(updates)
        .containsExactly(
            "projects/host-proj/alertPolicies/2", "projects/host-proj/alertPolicies/3");
    assertThat(plan.of("@info "))
        .contains(
            "Alert policy 'invoker-guard invoker-guard: signing"
                + " keys unavailable' is up to date");
  }
}
