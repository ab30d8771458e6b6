package dev.invokerguard.standin;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/**
 * The stand-in's Logging and Monitoring state answers as Google's does where deploy.sh's
 * idempotency depends on it: IDs, conflicts, missing resources, etags, and what proto3 JSON leaves
 * out.
 */
class LoggingMonitoringTest {
  private static final String METRIC =
      "{\"name\":\"fn-denied\",\"filter\":\"jsonPayload.decision=\\\"deny\\\"\","
          + "\"labelExtractors\":{\"reason\":\"EXTRACT(jsonPayload.reason)\"},"
          + "\"metricDescriptor\":{\"metricKind\":\"DELTA\",\"valueType\":\"INT64\","
          + "\"labels\":[{\"key\":\"reason\",\"valueType\":\"STRING\"}]}}";
  private static final String POLICY =
      "{\"displayName\":\"p\",\"combiner\":\"OR\",\"conditions\":[{\"displayName\":\"c\","
          + "\"conditionThreshold\":{\"filter\":\"metric.type=\\\"x\\\"\","
          + "\"comparison\":\"COMPARISON_GT\"}}]}";
  private static final String DASHBOARD =
      "{\"displayName\":\"d\",\"mosaicLayout\":{\"columns\":48}}";

  private final LoggingMonitoring api =
      new LoggingMonitoring(
          "host-project"::equals,
          Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC));

  private JsonObject call(String method, String api, String path, String body) {
    Object answer =
        this.api.route(
            new GoogleStandIn.Request(
                Instant.EPOCH, method, api, path, "alt=json", body, "127.0.0.1:1"));
    assertThat(answer).isInstanceOf(JsonObject.class);
    return (JsonObject) answer;
  }

  private ApiException refused(String method, String api, String path, String body) {
    return assertThrows(ApiException.class, () -> call(method, api, path, body));
  }

  @Test
  void metric_createdOnce_thenConflict_missingOneNotFound_defaultValueTypeLeftOut() {
    JsonObject created = call("POST", "logging", "/v2/projects/host-project/metrics", METRIC);

    assertThat(created.getAsJsonObject("metricDescriptor").get("type").getAsString())
        .isEqualTo("logging.googleapis.com/user/fn-denied");
    JsonObject label =
        created
            .getAsJsonObject("metricDescriptor")
            .getAsJsonArray("labels")
            .get(0)
            .getAsJsonObject();
    assertThat(label.has("valueType")).isFalse();
    assertThat(refused("POST", "logging", "/v2/projects/host-project/metrics", METRIC).code)
        .isEqualTo(409);
    assertThat(refused("GET", "logging", "/v2/projects/host-project/metrics/other", "").code)
        .isEqualTo(404);
    assertThat(refused("GET", "logging", "/v2/projects/someone-else/metrics/fn-denied", "").code)
        .isEqualTo(403);
    assertThat(
            refused(
                    "PUT",
                    "logging",
                    "/v2/projects/host-project/metrics/fn-denied",
                    METRIC.replace(
                        "\"labelExtractors\":{\"reason\":\"EXTRACT(jsonPayload.reason)\"},", ""))
                .code)
        .isEqualTo(400);
  }

  @Test
  void policy_getsAGeneratedName_andPatchWithoutMaskReplacesIt() {
    JsonObject created =
        call("POST", "monitoring", "/v3/projects/host-project/alertPolicies", POLICY);
    String name = created.get("name").getAsString();
    assertThat(name).matches("projects/host-project/alertPolicies/[0-9]+");
    assertThat(
            created.getAsJsonArray("conditions").get(0).getAsJsonObject().get("name").getAsString())
        .startsWith(name + "/conditions/");

    JsonObject patched =
        call("PATCH", "monitoring", "/v3/" + name, POLICY.replace("\"p\"", "\"renamed\""));

    assertThat(patched.get("name").getAsString()).isEqualTo(name);
    assertThat(patched.get("displayName").getAsString()).isEqualTo("renamed");
    assertThat(
            call("GET", "monitoring", "/v3/projects/host-project/alertPolicies", "")
                .getAsJsonArray("alertPolicies"))
        .hasSize(1);
    assertThat(
            refused(
                    "POST",
                    "monitoring",
                    "/v3/projects/host-project/alertPolicies",
                    "{\"displayName\":\"x\",\"combiner\":\"OR\"}")
                .code)
        .isEqualTo(400);
  }

  @Test
  void dashboard_staleEtagRefused409_currentEtagAccepted_andChanged() {
    assertThat(call("GET", "monitoring", "/v1/projects/host-project/dashboards", "").size())
        .isEqualTo(0);
    JsonObject created =
        call("POST", "monitoring", "/v1/projects/host-project/dashboards", DASHBOARD);
    String name = created.get("name").getAsString();
    String etag = created.get("etag").getAsString();

    JsonObject updated =
        call(
            "PATCH",
            "monitoring",
            "/v1/" + name,
            DASHBOARD.replace("}}", "},\"etag\":\"" + etag + "\"}"));

    assertThat(updated.get("etag").getAsString()).isNotEqualTo(etag);
    ApiException stale =
        refused(
            "PATCH",
            "monitoring",
            "/v1/" + name,
            DASHBOARD.replace("}}", "},\"etag\":\"" + etag + "\"}"));
    assertThat(stale.code).isEqualTo(409);
    assertThat(stale.status).isEqualTo("ABORTED");
    assertThat(
            refused("PATCH", "monitoring", "/v1/projects/host-project/dashboards/nope", DASHBOARD)
                .code)
        .isEqualTo(404);
  }

  @Test
  void logMatchPolicy_needsAFilterAndANotificationRateLimit_asTheApiRequires() {
    String logMatch =
        "{\"displayName\":\"l\",\"combiner\":\"OR\",\"conditions\":[{\"displayName\":\"c\","
            + "\"conditionMatchedLog\":{\"filter\":\"protoPayload.methodName=\\\"SetIamPolicy\\\"\","
            + "\"labelExtractors\":{\"principal\":"
            + "\"EXTRACT(protoPayload.authenticationInfo.principalEmail)\"}}}]";
    String path = "/v3/projects/host-project/alertPolicies";

    assertThat(refused("POST", "monitoring", path, logMatch + "}").code).isEqualTo(400);
    assertThat(
            refused(
                    "POST",
                    "monitoring",
                    path,
                    logMatch.replace(
                            "\"filter\":\"protoPayload.methodName=\\\"SetIamPolicy\\\"\",", "")
                        + ",\"alertStrategy\":{\"notificationRateLimit\":{\"period\":\"300s\"}}}")
                .code)
        .isEqualTo(400);
    JsonObject created =
        call(
            "POST",
            "monitoring",
            path,
            logMatch + ",\"alertStrategy\":{\"notificationRateLimit\":{\"period\":\"300s\"}}}");

    assertThat(
            created
                .getAsJsonArray("conditions")
                .get(0)
                .getAsJsonObject()
                .getAsJsonObject("conditionMatchedLog")
                .getAsJsonObject("labelExtractors")
                .has("principal"))
        .isTrue();
  }
}
