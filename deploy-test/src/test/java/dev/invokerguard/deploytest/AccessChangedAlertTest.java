package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The filter of the "access settings changed" alert (deploy.sh --monitoring, from its dry-run
 * output against the recording fake gcloud), evaluated with {@link LoggingFilter} against audit log
 * entries shaped as Google documents them
 * (cloud.google.com/logging/docs/audit/understanding-audit-logs: a LogEntry whose protoPayload is
 * an AuditLog with serviceName, methodName, resourceName and authenticationInfo.principalEmail;
 * Admin Activity entries in the log {@code cloudaudit.googleapis.com%2Factivity}, Data Access
 * entries in {@code ...%2Fdata_access}; the method names of cloud.google.com/run/docs/audit-logging
 * and cloud.google.com/functions/docs/monitoring/audit-logging).
 */
class AccessChangedAlertTest {
  private static final String PROJECT = "host-proj";
  private static final String REGION = "europe-west1";
  private static final String NAME = "invoker-guard";
  private static final String MALLORY = "mallory@example.com";
  private static final String ACTIVITY =
      "projects/" + PROJECT + "/logs/cloudaudit.googleapis.com%2Factivity";
  private static final String DATA_ACCESS =
      "projects/" + PROJECT + "/logs/cloudaudit.googleapis.com%2Fdata_access";

  @TempDir Path temp;

  /** An audit log entry: the LogEntry, its monitored resource and its AuditLog payload. */
  private static JsonObject entry(
      String logName,
      String serviceName,
      String methodName,
      String resourceName,
      String resourceType,
      Map<String, String> labels) {
    JsonObject payload = new JsonObject();
    payload.addProperty("@type", "type.googleapis.com/google.cloud.audit.AuditLog");
    payload.add("status", new JsonObject());
    JsonObject authentication = new JsonObject();
    authentication.addProperty("principalEmail", MALLORY);
    payload.add("authenticationInfo", authentication);
    JsonObject requestMetadata = new JsonObject();
    requestMetadata.addProperty("callerIp", "203.0.113.7");
    payload.add("requestMetadata", requestMetadata);
    payload.addProperty("serviceName", serviceName);
    payload.addProperty("methodName", methodName);
    payload.addProperty("resourceName", resourceName);
    JsonObject resource = new JsonObject();
    resource.addProperty("type", resourceType);
    JsonObject resourceLabels = new JsonObject();
    labels.forEach(resourceLabels::addProperty);
    resource.add("labels", resourceLabels);
    JsonObject entry = new JsonObject();
    entry.add("protoPayload", payload);
    entry.addProperty("insertId", "abc123");
    entry.add("resource", resource);
    entry.addProperty("timestamp", "2026-12-06T14:00:00.000000Z");
    entry.addProperty("severity", "NOTICE");
    entry.addProperty("logName", logName);
    return entry;
  }

  /** An entry of Cloud Run about service {@code service} (its resource: cloud_run_revision). */
  private static JsonObject run(
      String logName, String method, String service, String resourceName) {
    return entry(
        logName,
        "run.googleapis.com",
        method,
        resourceName,
        "cloud_run_revision",
        Map.of(
            "service_name", service,
            "project_id", PROJECT,
            "location", REGION,
            "revision_name", "",
            "configuration_name", ""));
  }

  private static JsonObject runV2(String logName, String method, String service) {
    return run(
        logName,
        method,
        service,
        "projects/" + PROJECT + "/locations/" + REGION + "/services/" + service);
  }

  /** An entry of Cloud Functions about function {@code function} (its resource: cloud_function). */
  private static JsonObject functions(String logName, String method, String function) {
    return entry(
        logName,
        "cloudfunctions.googleapis.com",
        method,
        "projects/" + PROJECT + "/locations/" + REGION + "/functions/" + function,
        "cloud_function",
        Map.of("function_name", function, "project_id", PROJECT, "region", REGION));
  }

  private JsonObject policy(int generation) throws Exception {
    return DryRunConfigs.monitoringOnly(
            temp.resolve("gen" + generation), PROJECT, REGION, generation)
        .entrySet()
        .stream()
        .filter(e -> e.getKey().startsWith("gcloud alpha monitoring policies create"))
        .map(Map.Entry::getValue)
        .filter(
            p ->
                p.get("displayName")
                    .getAsString()
                    .equals("invoker-guard " + NAME + ": access settings changed"))
        .findFirst()
        .orElseThrow();
  }

  private static JsonObject matchedLog(JsonObject policy) {
    return policy
        .getAsJsonArray("conditions")
        .get(0)
        .getAsJsonObject()
        .getAsJsonObject("conditionMatchedLog");
  }

  @Test
  void gen2_everyChangeOfTheFunctionsOrItsServicesAccess_matches_readsAndOthersDoNot()
      throws Exception {
    LoggingFilter filter = LoggingFilter.parse(matchedLog(policy(2)).get("filter").getAsString());

    List<JsonObject> changes =
        List.of(
            runV2(ACTIVITY, "google.cloud.run.v1.Services.SetIamPolicy", NAME),
            runV2(ACTIVITY, "google.cloud.run.v2.Services.SetIamPolicy", NAME),
            runV2(ACTIVITY, "google.iam.v1.IAMPolicy.SetIamPolicy", NAME),
            runV2(ACTIVITY, "google.cloud.run.v2.Services.UpdateService", NAME),
            // The v1 API names the service in its namespace form.
            run(
                ACTIVITY,
                "google.cloud.run.v1.Services.ReplaceService",
                NAME,
                "namespaces/" + PROJECT + "/services/" + NAME),
            functions(ACTIVITY, "google.cloud.functions.v2.FunctionService.SetIamPolicy", NAME),
            functions(ACTIVITY, "SetIamPolicy", NAME));
    for (JsonObject change : changes) {
      assertWithMessage("%s\nfilter: %s", change, filter).that(filter.matches(change)).isTrue();
    }

    List<JsonObject> others =
        List.of(
            // Another function and its service.
            runV2(ACTIVITY, "google.cloud.run.v1.Services.SetIamPolicy", "another-function"),
            runV2(ACTIVITY, "google.cloud.run.v2.Services.UpdateService", "another-function"),
            functions(ACTIVITY, "SetIamPolicy", "another-function"),
            // Reads: Data Access entries, and not a change.
            runV2(DATA_ACCESS, "google.cloud.run.v1.Services.GetIamPolicy", NAME),
            functions(DATA_ACCESS, "GetIamPolicy", NAME),
            functions(ACTIVITY, "GetIamPolicy", NAME),
            runV2(DATA_ACCESS, "google.cloud.run.v2.Services.GetService", NAME),
            // Another project's entry of the same name.
            functions(
                "projects/other-proj/logs/cloudaudit.googleapis.com%2Factivity",
                "SetIamPolicy", NAME),
            // A deletion is not an access change (a deploy recreates it; not this alert's job).
            runV2(ACTIVITY, "google.cloud.run.v2.Services.DeleteService", NAME));
    for (JsonObject other : others) {
      assertWithMessage("%s\nfilter: %s", other, filter).that(filter.matches(other)).isFalse();
    }
  }

  @Test
  void gen1_theFunctionsIamPolicyOnly() throws Exception {
    LoggingFilter filter = LoggingFilter.parse(matchedLog(policy(1)).get("filter").getAsString());

    assertThat(filter.matches(functions(ACTIVITY, "SetIamPolicy", NAME))).isTrue();
    assertThat(
            filter.matches(
                functions(
                    ACTIVITY,
                    "google.cloud.functions.v1.CloudFunctionsService.SetIamPolicy",
                    NAME)))
        .isTrue();
    assertThat(filter.matches(functions(ACTIVITY, "SetIamPolicy", "another-function"))).isFalse();
    assertThat(filter.matches(functions(DATA_ACCESS, "GetIamPolicy", NAME))).isFalse();
    assertThat(filter.matches(runV2(ACTIVITY, "google.cloud.run.v1.Services.SetIamPolicy", NAME)))
        .isFalse();
  }

  @Test
  void labelExtractors_nameWhoDidItAndWhat() throws Exception {
    JsonObject extractors = matchedLog(policy(2)).getAsJsonObject("labelExtractors");
    JsonObject change = runV2(ACTIVITY, "google.cloud.run.v2.Services.UpdateService", NAME);

    assertThat(LoggingFilter.extract(extractors.get("principal").getAsString(), change))
        .hasValue(MALLORY);
    assertThat(LoggingFilter.extract(extractors.get("method").getAsString(), change))
        .hasValue("google.cloud.run.v2.Services.UpdateService");
    assertThat(LoggingFilter.extract(extractors.get("resource").getAsString(), change))
        .hasValue("projects/host-proj/locations/europe-west1/services/invoker-guard");
  }
}
