package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy.sh --monitoring against the recording fake gcloud: which calls each mode makes, in which
 * order, and the states the stand-in cannot produce (the alpha component missing, a read refused, a
 * function of the other generation). What the configs do is in {@link MonitoringFiltersIT} and,
 * with the real gcloud, {@link MonitoringJourneyIT}.
 */
class DeployScriptMonitoringTest {
  private static final String PROJECT = "host-proj";
  private static final String REGION = "europe-west1";
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String GEN1_FUNCTION =
      """
      {"name": "projects/host-proj/locations/europe-west1/functions/invoker-guard",
       "httpsTrigger": {"url": "https://europe-west1-host-proj.cloudfunctions.net/invoker-guard"}}
      """;
  private static final List<String> READS =
      List.of(
          "logging metrics describe invoker-guard-allowed --project=host-proj --format=json",
          "logging metrics describe invoker-guard-denied --project=host-proj --format=json",
          "logging metrics describe invoker-guard-key-fetch-failures --project=host-proj"
              + " --format=json",
          "logging metrics describe invoker-guard-keys-unavailable --project=host-proj"
              + " --format=json",
          "logging metrics describe invoker-guard-key-health --project=host-proj --format=json",
          "alpha monitoring policies list --project=host-proj --format=json",
          "monitoring dashboards list --project=host-proj --format=json");

  @TempDir Path temp;
  private Sandbox sandbox;

  @BeforeEach
  void setUp() throws Exception {
    sandbox = Sandbox.create(temp);
  }

  private Sandbox.Result run(String... extra) throws Exception {
    List<String> args =
        new java.util.ArrayList<>(List.of("--project", PROJECT, "--region", REGION));
    args.addAll(List.of(extra));
    return sandbox.run(args.toArray(String[]::new));
  }

  @Test
  void monitoringOnly_noAllowlistNeeded_readsEverythingFirst_thenCreatesTenThings()
      throws Exception {
    Sandbox.Result result = run("--monitoring-only");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.callsStartingWith("functions deploy")).isEmpty();
    assertThat(result.callsStartingWith("functions add-invoker")).isEmpty();
    List<String> calls = result.calls();
    // Every read before the first change: a refused read stops before anything changed.
    int firstChange = calls.indexOf(result.mutatingCalls().get(0));
    assertThat(calls.subList(0, firstChange)).containsAtLeastElementsIn(READS).inOrder();
    // Each change without its flags: the command and what it names.
    assertThat(result.mutatingCalls().stream().map(c -> c.replaceAll(" --.*", "")).toList())
        .containsExactly(
            "logging metrics create invoker-guard-allowed",
            "logging metrics create invoker-guard-denied",
            "logging metrics create invoker-guard-key-fetch-failures",
            "logging metrics create invoker-guard-keys-unavailable",
            "logging metrics create invoker-guard-key-health",
            "alpha monitoring policies create",
            "alpha monitoring policies create",
            "alpha monitoring policies create",
            "alpha monitoring policies create",
            "monitoring dashboards create")
        .inOrder();
    assertThat(result.stderr()).contains("function invoker-guard does not exist (yet)");
  }

  @Test
  void deployWithMonitoring_dryRun_printsTheDeployAndEveryMonitoringCommand_runsNoChange()
      throws Exception {
    Sandbox.Result result =
        run("--allow", ALICE, "--source", sandbox.source().toString(), "--monitoring", "--dry-run");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.mutatingCalls()).isEmpty();
    assertThat(result.calls()).containsAtLeastElementsIn(READS);
    assertThat(DryRunConfigs.commands(result.stdout()).get(0))
        .startsWith("gcloud functions deploy invoker-guard");
    Map<String, JsonObject> configs = DryRunConfigs.parse(result.stdout());
    assertThat(configs).hasSize(10);
    assertThat(result.stdout()).contains("Dry run: 10 monitoring change(s) planned, none made.");
  }

  @Test
  void unchangedMetric_isNotRewritten_evenWhenTheApiLeavesOutDefaults() throws Exception {
    Sandbox.Result first = run("--monitoring-only", "--dry-run");
    JsonObject denied =
        DryRunConfigs.find(
            DryRunConfigs.parse(first.stdout()),
            "gcloud logging metrics create invoker-guard-denied ");
    // As the API answers it: name, typed descriptor, the STRING value type left out.
    JsonObject answered = denied.deepCopy();
    answered.addProperty("name", "invoker-guard-denied");
    answered
        .getAsJsonObject("metricDescriptor")
        .addProperty("type", "logging.googleapis.com/user/invoker-guard-denied");
    answered
        .getAsJsonObject("metricDescriptor")
        .getAsJsonArray("labels")
        .forEach(label -> label.getAsJsonObject().remove("valueType"));
    Files.createDirectories(temp.resolve("state/metrics"));
    sandbox.writeState("metrics/invoker-guard-denied.json", answered.toString());
    JsonObject stale = answered.deepCopy();
    stale.addProperty("filter", "jsonPayload.decision=\"deny\"");
    sandbox.writeState("metrics/invoker-guard-allowed.json", stale.toString());

    Sandbox.Result result = run("--monitoring-only");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.callsStartingWith("logging metrics create invoker-guard-denied")).isEmpty();
    assertThat(result.callsStartingWith("logging metrics update invoker-guard-denied")).isEmpty();
    assertThat(result.callsStartingWith("logging metrics update invoker-guard-allowed")).hasSize(1);
    assertThat(result.stdout()).contains("Log-based metric invoker-guard-denied is up to date");
  }

  @Test
  void alphaComponentMissing_exit2_namesTheInstallCommand_beforeAnyChange() throws Exception {
    sandbox.writeState(
        "monitoring.error",
        "ERROR: (gcloud) You do not currently have this command group installed. Using it"
            + " requires the installation of components: [alpha]\n");

    Sandbox.Result result = run("--monitoring-only");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr()).contains("gcloud components install alpha");
    assertThat(result.mutatingCalls()).isEmpty();
  }

  /**
   * With a deploy too, every monitoring read comes before the deploy: a refused read stops with
   * exit 2 and nothing changed (issue 21: it used to exit 2 after the deploy and IAM changes).
   */
  @Test
  void deployWithMonitoring_alphaComponentMissing_exit2_beforeTheDeploy() throws Exception {
    sandbox.writeState(
        "monitoring.error",
        "ERROR: (gcloud) You do not currently have this command group installed. Using it"
            + " requires the installation of components: [alpha]\n");

    Sandbox.Result result =
        run("--allow", ALICE, "--source", sandbox.source().toString(), "--monitoring");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr()).contains("gcloud components install alpha");
    assertThat(result.mutatingCalls()).isEmpty();
  }

  @Test
  void monitoringOnly_functionOfTheOtherGeneration_exit2_beforeAnyMonitoringCall()
      throws Exception {
    sandbox.writeState("describe.json", GEN1_FUNCTION);

    Sandbox.Result result = run("--monitoring-only");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr()).contains("exists as 1st gen: rerun with --gen1");
    assertThat(result.callsStartingWith("logging")).isEmpty();
  }

  @Test
  void notificationChannelIds_becomeChannelNamesInTheHostProject() throws Exception {
    Sandbox.Result result =
        run(
            "--monitoring-only",
            "--dry-run",
            "--notification-channel",
            "42",
            "--notification-channel",
            "projects/host-proj/notificationChannels/43");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    JsonObject policy =
        DryRunConfigs.find(
            DryRunConfigs.parse(result.stdout()), "gcloud alpha monitoring policies create");
    assertThat(policy.getAsJsonArray("notificationChannels").toString())
        .isEqualTo(
            "[\"projects/host-proj/notificationChannels/42\","
                + "\"projects/host-proj/notificationChannels/43\"]");
  }

  @Test
  void settingsFromTheEnvironment_thresholdAndWindow() throws Exception {
    Sandbox.Result result =
        sandbox.run(
            Map.of(
                "INVOKER_GUARD_MONITORING_ONLY", "true",
                "INVOKER_GUARD_DENIED_ALERT_THRESHOLD", "7",
                "INVOKER_GUARD_ALERT_WINDOW_MINUTES", "15",
                "INVOKER_GUARD_DRY_RUN", "true"),
            "--project",
            PROJECT,
            "--region",
            REGION);

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    JsonObject denials =
        DryRunConfigs.parse(result.stdout()).values().stream()
            .filter(c -> c.toString().contains("denials rising"))
            .findFirst()
            .orElseThrow();
    JsonObject threshold =
        denials
            .getAsJsonArray("conditions")
            .get(0)
            .getAsJsonObject()
            .getAsJsonObject("conditionThreshold");
    assertThat(threshold.get("thresholdValue").getAsInt()).isEqualTo(7);
    assertThat(
            threshold
                .getAsJsonArray("aggregations")
                .get(0)
                .getAsJsonObject()
                .get("alignmentPeriod")
                .getAsString())
        .isEqualTo("900s");
  }
}
