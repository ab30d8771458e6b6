package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.invokerguard.standin.DeployedFunction;
import dev.invokerguard.standin.Gcloud;
import dev.invokerguard.standin.GoogleStandIn;
import dev.invokerguard.standin.LoggingMonitoring;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code deploy.sh --monitoring} (issue 15 item 3) with the real gcloud 528 against the stand-in's
 * Logging and Monitoring APIs, in order on one stand-in: a dry run before anything exists changes
 * nothing; a deploy with --monitoring creates the five log-based metrics, the four alert policies
 * (two of them the access-change and keys-degraded alerts of issue 21) and the dashboard, whose
 * allowed filter matches the deployed guard's own line; a second run sends no create or update; a
 * changed threshold updates that policy only; a dashboard edited by hand is put back, with its
 * etag. Every request is listed in {@code target/journey-MonitoringJourneyIT.log}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MonitoringJourneyIT {
  private static final String PROJECT = "host-project";
  private static final String REGION = "europe-west1";
  private static final String NAME = "invoker-guard";
  private static final String DEPLOYER = "deployer@host-project.iam.gserviceaccount.com";
  private static final String ALICE = "alice-api@client-one.iam.gserviceaccount.com";
  private static final String CHANNEL = "projects/host-project/notificationChannels/1234567890";
  private static final String SCOPE =
      "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"invoker-guard\"";

  @TempDir static Path temp;
  private OfflineGoogle offline;
  private GoogleStandIn google;
  private Gcloud gcloud;

  @BeforeAll
  void setUp() throws Exception {
    offline =
        OfflineGoogle.start(
            temp, PROJECT, DEPLOYER, Optional.of("journey-MonitoringJourneyIT.log"), "client-one");
    google = offline.google();
    gcloud = offline.gcloud();
    ok(gcloud.gcloud("iam", "service-accounts", "create", "alice-api", "--project=client-one"));
  }

  @AfterEach
  void onlyKnownLoopbackRequests() {
    if (offline != null) {
      offline.assertOnlyKnownLoopbackRequests(REGION);
    }
  }

  @AfterAll
  void tearDown() throws Exception {
    if (offline != null) {
      offline.close();
    }
  }

  @Test
  @Order(1)
  void dryRun_printsEveryCommandAndConfig_andChangesNothing() throws Exception {
    int before = google.requests().size();

    Gcloud.Result result = deploy("--monitoring-only", "--dry-run");

    ok(result);
    assertThat(writesSince(before)).isEmpty();
    assertThat(state().metrics()).isEmpty();
    assertThat(state().alertPolicies()).isEmpty();
    assertThat(state().dashboards()).isEmpty();
    for (String suffix :
        List.of("allowed", "denied", "key-fetch-failures", "keys-unavailable", "key-health")) {
      assertThat(DryRunConfigs.commands(result.stdout()))
          .contains(
              "gcloud logging metrics create "
                  + NAME
                  + "-"
                  + suffix
                  + " --project="
                  + PROJECT
                  + " --config-from-file=@CONFIG");
    }
    assertThat(DryRunConfigs.parse(result.stdout())).hasSize(10);
    assertThat(result.stdout()).contains("Dry run: 10 monitoring change(s) planned, none made.");
  }

  @Test
  @Order(2)
  void deployWithMonitoring_createsMetricsPoliciesAndDashboard() throws Exception {
    Gcloud.Result result =
        deploy("--allow", ALICE, "--monitoring", "--notification-channel", "1234567890");

    ok(result);
    Map<String, JsonObject> metrics = state().metrics();
    assertThat(metrics.keySet())
        .containsExactly(
            NAME + "-allowed",
            NAME + "-denied",
            NAME + "-key-fetch-failures",
            NAME + "-keys-unavailable",
            NAME + "-key-health");
    assertThat(filter(metrics, "allowed")).isEqualTo(SCOPE + " AND jsonPayload.decision=\"allow\"");
    assertThat(filter(metrics, "denied")).isEqualTo(SCOPE + " AND jsonPayload.decision=\"deny\"");
    assertThat(filter(metrics, "key-fetch-failures"))
        .isEqualTo(SCOPE + " AND jsonPayload.keyHealth=\"FETCH_FAILED\"");
    assertThat(filter(metrics, "keys-unavailable"))
        .isEqualTo(
            SCOPE
                + " AND (jsonPayload.keyHealth=\"UNUSABLE\""
                + " OR jsonPayload.reason=\"KEYS_UNAVAILABLE\")");
    for (String labelled : List.of("allowed", "denied")) {
      JsonObject metric = metrics.get(NAME + "-" + labelled);
      assertThat(metric.getAsJsonObject("labelExtractors").get("caller").getAsString())
          .isEqualTo("EXTRACT(jsonPayload.caller)");
      assertThat(metric.getAsJsonObject("labelExtractors").get("reason").getAsString())
          .isEqualTo("EXTRACT(jsonPayload.reason)");
    }

    List<JsonObject> policies = state().alertPolicies();
    assertThat(policies.stream().map(p -> p.get("displayName").getAsString()).toList())
        .containsExactly(
            "invoker-guard invoker-guard: signing keys unavailable",
            "invoker-guard invoker-guard: denials rising",
            "invoker-guard invoker-guard: access settings changed",
            "invoker-guard invoker-guard: signing keys degraded");
    assertThat(threshold(policies.get(0)).get("filter").getAsString())
        .isEqualTo(
            "metric.type=\"logging.googleapis.com/user/invoker-guard-keys-unavailable\""
                + " AND resource.type=\"cloud_run_revision\"");
    assertThat(threshold(policies.get(0)).get("thresholdValue").getAsDouble()).isEqualTo(0.0);
    assertThat(threshold(policies.get(1)).get("thresholdValue").getAsDouble()).isEqualTo(20.0);
    // The log-based alert on the audit log, as stored: the function's service, who did it.
    JsonObject accessChanged =
        policies.get(2).getAsJsonArray("conditions").get(0).getAsJsonObject();
    assertThat(accessChanged.getAsJsonObject("conditionMatchedLog").get("filter").getAsString())
        .contains("resource.labels.service_name=\"" + NAME + "\"");
    assertThat(
            accessChanged
                .getAsJsonObject("conditionMatchedLog")
                .getAsJsonObject("labelExtractors")
                .get("principal")
                .getAsString())
        .isEqualTo("EXTRACT(protoPayload.authenticationInfo.principalEmail)");
    assertThat(threshold(policies.get(3)).get("duration").getAsString()).isEqualTo("900s");
    for (JsonObject policy : policies) {
      assertThat(policy.getAsJsonArray("notificationChannels").get(0).getAsString())
          .isEqualTo(CHANNEL);
    }
    for (JsonObject policy : policies.subList(0, 2)) {
      assertThat(
              threshold(policy)
                  .getAsJsonArray("aggregations")
                  .get(0)
                  .getAsJsonObject()
                  .get("alignmentPeriod")
                  .getAsString())
          .isEqualTo("300s");
    }

    // The dashboard charts exactly the metrics made, and shows the lines.
    List<JsonObject> dashboards = state().dashboards();
    assertThat(dashboards).hasSize(1);
    List<String> charted = new ArrayList<>();
    for (JsonElement tile :
        dashboards.get(0).getAsJsonObject("mosaicLayout").getAsJsonArray("tiles")) {
      JsonObject widget = tile.getAsJsonObject().getAsJsonObject("widget");
      if (widget.has("xyChart")) {
        for (JsonElement dataSet : widget.getAsJsonObject("xyChart").getAsJsonArray("dataSets")) {
          String filter =
              dataSet
                  .getAsJsonObject()
                  .getAsJsonObject("timeSeriesQuery")
                  .getAsJsonObject("timeSeriesFilter")
                  .get("filter")
                  .getAsString();
          charted.add(
              filter.replaceAll("^metric.type=\"logging.googleapis.com/user/([^\"]+)\".*", "$1"));
        }
      }
    }
    assertThat(new java.util.TreeSet<>(charted)).containsExactlyElementsIn(metrics.keySet());

    // The allowed filter as stored matches the deployed guard's own line for Alice's call.
    DeployedFunction function = google.function(REGION, NAME);
    String token = offline.issuer().mint(ALICE, function.audiences().get(0));
    HttpResponse<String> answer =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(function.frontEnd())
                    .header("Authorization", "Bearer " + token)
                    .timeout(Duration.ofSeconds(60))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertWithMessage("%s\n%s", answer.body(), function.instanceLogs())
        .that(answer.statusCode())
        .isEqualTo(200);
    LoggingFilter allowed = LoggingFilter.parse(filter(metrics, "allowed"));
    LoggingFilter denied = LoggingFilter.parse(filter(metrics, "denied"));
    List<JsonObject> entries = new ArrayList<>();
    for (String line : function.instanceLogs().lines().toList()) {
      if (line.contains("\"decision\"")) {
        entries.add(LogEntries.entry(line, PROJECT, REGION, NAME, 2));
      }
    }
    assertWithMessage("%s", function.instanceLogs()).that(entries).isNotEmpty();
    assertThat(entries.stream().filter(allowed::matches).count()).isEqualTo(entries.size());
    assertThat(entries.stream().filter(denied::matches).count()).isEqualTo(0);
  }

  @Test
  @Order(3)
  void secondRun_sendsNoCreateOrUpdate() throws Exception {
    int before = google.requests().size();

    Gcloud.Result result =
        deploy("--allow", ALICE, "--monitoring", "--notification-channel", "1234567890");

    ok(result);
    assertWithMessage("%s", result).that(writesSince(before)).isEmpty();
    assertThat(result.stdout()).contains("Monitoring already up to date: no change (10 checked).");
    assertThat(state().alertPolicies()).hasSize(4);
    assertThat(state().dashboards()).hasSize(1);
  }

  @Test
  @Order(4)
  void changedThreshold_updatesThatPolicyOnly() throws Exception {
    String name = state().alertPolicies().get(1).get("name").getAsString();
    int before = google.requests().size();

    Gcloud.Result dryRun =
        deploy(
            "--monitoring-only",
            "--denied-alert-threshold",
            "50",
            "--notification-channel",
            CHANNEL,
            "--dry-run");
    ok(dryRun);
    assertThat(writesSince(before)).isEmpty();
    assertThat(DryRunConfigs.commands(dryRun.stdout()))
        .contains(
            "gcloud alpha monitoring policies update "
                + name
                + " --project="
                + PROJECT
                + " --policy-from-file=@CONFIG");

    Gcloud.Result result =
        deploy(
            "--monitoring-only",
            "--denied-alert-threshold",
            "50",
            "--notification-channel",
            CHANNEL);

    ok(result);
    assertThat(writesSince(before)).containsExactly("PATCH /monitoring/v3/" + name);
    JsonObject policy = state().alertPolicies().get(1);
    assertThat(policy.get("name").getAsString()).isEqualTo(name);
    assertThat(threshold(policy).get("thresholdValue").getAsDouble()).isEqualTo(50.0);
    assertThat(state().alertPolicies()).hasSize(4);
  }

  @Test
  @Order(5)
  void dashboardEditedByHand_isPutBack_withTheEtagItRead() throws Exception {
    JsonObject dashboard = state().dashboards().get(0);
    String id = dashboard.get("name").getAsString().replaceAll(".*/", "");
    JsonObject edited = dashboard.deepCopy();
    edited.remove("name");
    edited
        .getAsJsonObject("mosaicLayout")
        .getAsJsonArray("tiles")
        .get(0)
        .getAsJsonObject()
        .getAsJsonObject("widget")
        .addProperty("title", "edited by hand");
    Path file = Files.writeString(temp.resolve("edited.json"), edited.toString());
    ok(
        gcloud.gcloud(
            "monitoring",
            "dashboards",
            "update",
            id,
            "--project=" + PROJECT,
            "--config-from-file=" + file));
    String etagAfterEdit = state().dashboards().get(0).get("etag").getAsString();
    int before = google.requests().size();

    Gcloud.Result result =
        deploy(
            "--monitoring-only",
            "--denied-alert-threshold",
            "50",
            "--notification-channel",
            CHANNEL);

    ok(result);
    List<GoogleStandIn.Request> writes = writeRequestsSince(before);
    assertThat(writes.stream().map(GoogleStandIn.Request::toString).toList())
        .containsExactly(
            "PATCH /monitoring/v1/projects/" + PROJECT + "/dashboards/" + id + "?alt=json");
    assertThat(writes.get(0).body()).contains("\"etag\": \"" + etagAfterEdit + "\"");
    assertThat(state().dashboards().get(0).toString()).doesNotContain("edited by hand");
    assertThat(state().dashboards()).hasSize(1);
  }

  @Test
  @Order(6)
  void metricChangedByHand_isUpdatedThroughGcloudsUpdate() throws Exception {
    String name = NAME + "-denied";
    ok(
        gcloud.gcloud(
            "logging",
            "metrics",
            "update",
            name,
            "--project=" + PROJECT,
            "--log-filter=jsonPayload.decision=\"deny\""));
    assertThat(state().metrics().get(name).get("filter").getAsString())
        .isEqualTo("jsonPayload.decision=\"deny\"");
    int before = google.requests().size();

    Gcloud.Result result =
        deploy(
            "--monitoring-only",
            "--denied-alert-threshold",
            "50",
            "--notification-channel",
            CHANNEL);

    ok(result);
    assertThat(writesSince(before))
        .containsExactly("PUT /logging/v2/projects/" + PROJECT + "/metrics/" + name);
    assertThat(state().metrics().get(name).get("filter").getAsString())
        .isEqualTo(SCOPE + " AND jsonPayload.decision=\"deny\"");
    assertThat(state().metrics().get(name).getAsJsonObject("labelExtractors").keySet())
        .containsExactly("reason", "caller");
  }

  // --- helpers ---------------------------------------------------------------------------------

  private LoggingMonitoring state() {
    return google.loggingMonitoring();
  }

  private static String filter(Map<String, JsonObject> metrics, String suffix) {
    return metrics.get(NAME + "-" + suffix).get("filter").getAsString();
  }

  private static JsonObject threshold(JsonObject policy) {
    return policy
        .getAsJsonArray("conditions")
        .get(0)
        .getAsJsonObject()
        .getAsJsonObject("conditionThreshold");
  }

  private static boolean isWrite(GoogleStandIn.Request r) {
    return (r.api().equals("logging") || r.api().equals("monitoring")) && !r.method().equals("GET");
  }

  /** The Logging and Monitoring requests since {@code index} that change something. */
  /** The requests that change state received since {@code index}. */
  private List<GoogleStandIn.Request> writeRequestsSince(int index) {
    List<GoogleStandIn.Request> all = google.requests();
    return all.subList(index, all.size()).stream().filter(MonitoringJourneyIT::isWrite).toList();
  }

  /** {@link #writeRequestsSince} as {@code METHOD /api/path}, without the query. */
  private List<String> writesSince(int index) {
    return writeRequestsSince(index).stream()
        .map(r -> r.method() + " /" + r.api() + r.path())
        .toList();
  }

  private Gcloud.Result deploy(String... args) throws Exception {
    return offline.deploy(PROJECT, REGION, NAME, Map.of(), args);
  }

  private void ok(Gcloud.Result result) {
    offline.ok(result);
  }
}
