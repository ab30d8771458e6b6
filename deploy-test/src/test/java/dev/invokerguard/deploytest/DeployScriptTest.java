package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Runs the real deploy.sh against the recording fake gcloud and checks every call it makes: input
 * validation, settings precedence, the build step, exit codes, and states the stand-in cannot
 * produce (gcloud or jq missing, not authenticated, describe failing). The journey, IAM
 * convergence, dry run and public-access removal run with the real gcloud in {@link
 * OfflineJourneyIT}.
 */
class DeployScriptTest {
  private static final String PROJECT = "host-proj";
  private static final String REGION = "europe-west1";
  private static final String NAME = "invoker-guard";
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String BOB = "bob@client-two.iam.gserviceaccount.com";
  private static final String FUNCTIONS_URL =
      "https://europe-west1-host-proj.cloudfunctions.net/invoker-guard";
  private static final String RUN_URL = "https://invoker-guard-abc123-ew.a.run.app";
  // The fake's project number is 123456789012.
  private static final String DETERMINISTIC_URL =
      "https://invoker-guard-123456789012.europe-west1.run.app";
  private static final String ENTRY_POINT = "dev.invokerguard.function.ProtectedFunction";

  private static final String GEN2_FUNCTION =
      """
      {"name": "projects/host-proj/locations/europe-west1/functions/invoker-guard",
       "environment": "GEN_2",
       "url": "https://europe-west1-host-proj.cloudfunctions.net/invoker-guard",
       "serviceConfig": {
         "uri": "https://invoker-guard-abc123-ew.a.run.app",
         "service": "projects/host-proj/locations/europe-west1/services/invoker-guard-svc"}}
      """;
  private static final String GEN1_FUNCTION =
      """
      {"name": "projects/host-proj/locations/europe-west1/functions/invoker-guard",
       "httpsTrigger": {"url": "https://europe-west1-host-proj.cloudfunctions.net/invoker-guard",
                        "securityLevel": "SECURE_ALWAYS"},
       "runtime": "java21"}
      """;

  @TempDir Path temp;
  private Sandbox sandbox;

  @BeforeEach
  void setUp() throws Exception {
    sandbox = Sandbox.create(temp);
  }

  private String[] args(String... extra) {
    List<String> all =
        new java.util.ArrayList<>(
            List.of(
                "--project",
                PROJECT,
                "--region",
                REGION,
                "--allow",
                ALICE,
                "--allow",
                BOB,
                "--source",
                sandbox.source().toString()));
    all.addAll(Arrays.asList(extra));
    return all.toArray(String[]::new);
  }

  private static List<String> words(String call) {
    return Arrays.asList(call.split(" "));
  }

  private static Map<String, String> envVarsOf(String deployCall) {
    String flag =
        words(deployCall).stream()
            .filter(word -> word.startsWith("--update-env-vars="))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no --update-env-vars in " + deployCall));
    return GcloudDictFlag.parse(flag.substring("--update-env-vars=".length()));
  }

  private static String policy(String role, String... members) {
    StringBuilder json = new StringBuilder("{\"bindings\": [");
    // A role without the invoke permission: left alone (roles/run.admin would be revoked).
    json.append("{\"role\": \"roles/run.viewer\", \"members\": [\"user:boss@example.com\"]}");
    json.append(", {\"role\": \"").append(role).append("\", \"members\": [");
    for (int i = 0; i < members.length; i++) {
      json.append(i == 0 ? "" : ", ").append('"').append(members[i]).append('"');
    }
    return json.append("]}], \"etag\": \"BwX\"}").toString();
  }

  @Test
  void gen2_firstDeploy_requiresAuthenticationAndSetsAllowlistAndBothAudiences() throws Exception {
    sandbox.writeState("describe-after-deploy.json", GEN2_FUNCTION);

    Sandbox.Result result = sandbox.run(args());

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    List<String> deploys = result.callsStartingWith("functions deploy ");
    assertWithMessage("%s", result).that(deploys).isNotEmpty();
    for (String deploy : deploys) {
      assertThat(words(deploy))
          .containsAtLeast(
              "invoker-guard",
              "--region=" + REGION,
              "--project=" + PROJECT,
              "--gen2",
              "--trigger-http",
              "--no-allow-unauthenticated",
              "--runtime=java21",
              "--entry-point=" + ENTRY_POINT,
              "--source=" + sandbox.source());
      assertThat(words(deploy)).doesNotContain("--allow-unauthenticated");
    }
    // serviceConfig.uri is known only once the function exists: the last deploy carries all
    // three; the deterministic run.app URL (from the project number) is there from the first.
    assertThat(envVarsOf(deploys.get(0)))
        .containsEntry("EXPECTED_AUDIENCES", FUNCTIONS_URL + "," + DETERMINISTIC_URL);
    Map<String, String> env = envVarsOf(deploys.get(deploys.size() - 1));
    assertThat(env).containsEntry("ALLOWED_INVOKERS", ALICE + "," + BOB);
    assertThat(env)
        .containsEntry(
            "EXPECTED_AUDIENCES", FUNCTIONS_URL + "," + DETERMINISTIC_URL + "," + RUN_URL);
    // Only the variables deploy.sh owns, through --update-env-vars: every other one stays.
    assertThat(env)
        .containsExactly(
            "ALLOWED_INVOKERS",
            ALICE + "," + BOB,
            "EXPECTED_AUDIENCES",
            FUNCTIONS_URL + "," + DETERMINISTIC_URL + "," + RUN_URL,
            "GOOGLE_CLOUD_PROJECT",
            PROJECT,
            "FUNCTION_GENERATION",
            "gen2");
    assertThat(result.stdout()).contains("URL:       " + RUN_URL);
    assertThat(result.stdout()).contains("audience=" + RUN_URL + "&format=full");
    assertThat(result.stdout()).contains("Metadata-Flavor: Google");
    assertThat(result.stdout()).contains("--impersonate-service-account=" + ALICE);
  }

  @Test
  void gen2_existingFunction_deploysOnceAndGrantsOnTheUnderlyingService() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);

    Sandbox.Result result = sandbox.run(args());

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    List<String> deploys = result.callsStartingWith("functions deploy ");
    assertThat(deploys).hasSize(1);
    assertThat(envVarsOf(deploys.get(0)))
        .containsEntry(
            "EXPECTED_AUDIENCES", FUNCTIONS_URL + "," + DETERMINISTIC_URL + "," + RUN_URL);
    assertThat(result.calls())
        .contains(
            "run services get-iam-policy invoker-guard-svc --region=europe-west1"
                + " --project=host-proj --format=json");
    assertThat(result.calls())
        .containsAtLeast(
            "functions add-invoker-policy-binding invoker-guard --region=europe-west1"
                + " --project=host-proj --gen2 --member=serviceAccount:"
                + ALICE
                + " --quiet",
            "functions add-invoker-policy-binding invoker-guard --region=europe-west1"
                + " --project=host-proj --gen2 --member=serviceAccount:"
                + BOB
                + " --quiet");
    assertThat(sandbox.readState("iam.json")).contains("roles/run.invoker");
  }

  @Test
  void gen1_deploy_usesNoGen2AndTheCloudFunctionsInvokerRole() throws Exception {
    sandbox.writeState("describe.json", GEN1_FUNCTION);
    sandbox.writeState(
        "iam.json", policy("roles/cloudfunctions.invoker", "serviceAccount:" + ALICE, "allUsers"));

    Sandbox.Result result = sandbox.run(args("--gen1", "--runtime", "java17"));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    List<String> deploys = result.callsStartingWith("functions deploy ");
    assertThat(deploys).hasSize(1);
    assertThat(words(deploys.get(0)))
        .containsAtLeast(
            "--no-gen2",
            "--trigger-http",
            "--no-allow-unauthenticated",
            "--runtime=java17",
            "--entry-point=" + ENTRY_POINT,
            "--source=" + sandbox.source());
    assertThat(words(deploys.get(0))).doesNotContain("--gen2");
    assertThat(envVarsOf(deploys.get(0))).containsEntry("EXPECTED_AUDIENCES", FUNCTIONS_URL);
    assertThat(envVarsOf(deploys.get(0))).containsEntry("FUNCTION_GENERATION", "gen1");
    assertThat(result.calls())
        .contains(
            "functions get-iam-policy invoker-guard --region=europe-west1 --project=host-proj"
                + " --no-gen2 --format=json");
    assertThat(result.mutatingCalls())
        .containsAtLeast(
            "functions remove-invoker-policy-binding invoker-guard --region=europe-west1"
                + " --project=host-proj --no-gen2 --member=allUsers --quiet",
            "functions add-invoker-policy-binding invoker-guard --region=europe-west1"
                + " --project=host-proj --no-gen2 --member=serviceAccount:"
                + BOB
                + " --quiet")
        .inOrder();
    assertThat(result.stderr()).contains("PUBLIC ACCESS: allUsers");
    assertThat(sandbox.readState("iam.json")).doesNotContain("allUsers");
  }

  @Test
  void converge_grantsMissing_revokesExtra_removesPublicMembersLoudly() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    sandbox.writeState(
        "iam.json",
        policy(
            "roles/run.invoker",
            "allUsers",
            "serviceAccount:Alice@Client-One.iam.gserviceaccount.com",
            "allAuthenticatedUsers",
            "serviceAccount:mallory@evil-proj.iam.gserviceaccount.com",
            "user:someone@example.com"));

    Sandbox.Result result = sandbox.run(args());

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    String remove =
        "functions remove-invoker-policy-binding invoker-guard --region=europe-west1"
            + " --project=host-proj --gen2 --member=";
    String add =
        "functions add-invoker-policy-binding invoker-guard --region=europe-west1"
            + " --project=host-proj --gen2 --member=";
    assertThat(result.mutatingCalls().subList(1, result.mutatingCalls().size()))
        .containsExactly(
            remove + "allUsers --quiet",
            remove + "allAuthenticatedUsers --quiet",
            remove + "serviceAccount:mallory@evil-proj.iam.gserviceaccount.com --quiet",
            remove + "user:someone@example.com --quiet",
            add + "serviceAccount:" + BOB + " --quiet")
        .inOrder();
    assertThat(result.stderr()).contains("PUBLIC ACCESS: allUsers holds roles/run.invoker");
    assertThat(result.stderr())
        .contains("PUBLIC ACCESS: allAuthenticatedUsers holds roles/run.invoker");
    String after = sandbox.readState("iam.json");
    assertThat(after).doesNotContain("allUsers");
    assertThat(after).doesNotContain("mallory");
    assertThat(after).contains("user:boss@example.com"); // other roles are left alone
  }

  @Test
  void secondRun_withSameInputs_makesNoIamChangesAndSaysSo() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    sandbox.writeState("iam.json", policy("roles/run.invoker", "allUsers"));
    Sandbox.Result first = sandbox.run(args());
    assertWithMessage("%s", first).that(first.exitCode()).isEqualTo(0);
    assertThat(first.stdout()).doesNotContain("no IAM changes");

    Sandbox.Result second = sandbox.run(args());

    assertWithMessage("%s", second).that(second.exitCode()).isEqualTo(0);
    assertThat(second.calls().stream().filter(c -> c.contains("policy-binding")).toList())
        .isEmpty();
    assertThat(second.stdout()).contains("no IAM changes");
    assertThat(second.stderr()).doesNotContain("PUBLIC ACCESS");
  }

  private static final String SERVICE_CHECK_OFF =
      """
      {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
       "metadata": {"name": "invoker-guard-svc",
                    "annotations": {"run.googleapis.com/invoker-iam-disabled": "True"}}}
      """;
  private static final String INVOKER_CHECK_ON =
      "run services update invoker-guard-svc --region=europe-west1 --project=host-proj"
          + " --invoker-iam-check --quiet";

  @Test
  void invokerCheckOff_isSwitchedOnLoudly_beforeTheDeployThatCarriesTrustMode() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    sandbox.writeState("service.json", SERVICE_CHECK_OFF);

    Sandbox.Result result = sandbox.run(args("--trust-platform-verified-tokens", "true"));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    List<String> changes = result.mutatingCalls();
    assertThat(changes.get(0)).isEqualTo(INVOKER_CHECK_ON);
    assertThat(changes.get(1)).startsWith("functions deploy ");
    assertThat(envVarsOf(changes.get(1))).containsEntry("TRUST_PLATFORM_VERIFIED_TOKENS", "true");
    assertThat(result.stderr())
        .contains(
            "PUBLIC ACCESS: the invoker IAM check of Cloud Run service invoker-guard-svc is off");
    assertThat(sandbox.readState("service.json")).contains("\"False\"");

    Sandbox.Result second = sandbox.run(args("--trust-platform-verified-tokens", "true"));
    assertWithMessage("%s", second)
        .that(second.callsStartingWith("run services update "))
        .isEmpty();
  }

  @Test
  void invokerCheckStillOff_trustModeRefusedWithExit2_nothingDeployed() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    sandbox.writeState("service.json", SERVICE_CHECK_OFF);
    sandbox.writeState(
        "invoker-check.error", "ERROR: (gcloud.run.services.update) PERMISSION_DENIED: fake");

    Sandbox.Result result = sandbox.run(args("--trust-platform-verified-tokens", "true"));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(2);
    assertThat(result.mutatingCalls()).containsExactly(INVOKER_CHECK_ON);
    assertThat(result.stderr())
        .contains("refusing TRUST_PLATFORM_VERIFIED_TOKENS=true: the invoker IAM check");
    assertThat(result.stderr()).contains("nothing was deployed");
  }

  @Test
  void invokerCheckStillOff_withoutTrustMode_aRecordedFailure_theRestDone() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    sandbox.writeState("service.json", SERVICE_CHECK_OFF);
    sandbox.writeState(
        "invoker-check.error", "ERROR: (gcloud.run.services.update) PERMISSION_DENIED: fake");

    Sandbox.Result result = sandbox.run(args());

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(1);
    assertThat(result.callsStartingWith("functions deploy ")).hasSize(1);
    assertThat(result.stderr())
        .contains("switching the invoker IAM check on for service invoker-guard-svc");
  }

  @Test
  void firstDeploy_withTrustMode_deploysFalse_thenTrueOnceTheCheckReadsOn() throws Exception {
    sandbox.writeState("describe-after-deploy.json", GEN2_FUNCTION);

    Sandbox.Result result = sandbox.run(args("--trust-platform-verified-tokens", "true"));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    List<String> deploys = result.callsStartingWith("functions deploy ");
    assertThat(deploys).hasSize(2);
    assertThat(envVarsOf(deploys.get(0))).containsEntry("TRUST_PLATFORM_VERIFIED_TOKENS", "false");
    assertThat(envVarsOf(deploys.get(1))).containsEntry("TRUST_PLATFORM_VERIFIED_TOKENS", "true");
  }

  @Test
  void dryRun_showsTheInvokerCheckRepair_andTheDeployAsAfterIt() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    sandbox.writeState("service.json", SERVICE_CHECK_OFF);

    Sandbox.Result result =
        sandbox.run(args("--dry-run", "--trust-platform-verified-tokens", "true"));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.mutatingCalls()).isEmpty();
    assertThat(DryRunConfigs.commands(result.stdout())).contains("gcloud " + INVOKER_CHECK_ON);
    assertThat(result.stdout()).contains("TRUST_PLATFORM_VERIFIED_TOKENS=true");
  }

  @Test
  void everyRole_publicMembersAndInvokingRolesOffTheAllowlistRevoked_customRolesReported()
      throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    sandbox.writeState(
        "iam.json",
        """
        {"bindings": [
          {"role": "roles/run.servicesInvoker", "members": ["allUsers"]},
          {"role": "roles/run.admin", "members": ["user:boss@example.com"]},
          {"role": "projects/host-proj/roles/caller", "members": ["user:eve@example.com"]},
          {"role": "roles/run.viewer", "members": ["user:auditor@example.com"]},
          {"role": "roles/run.invoker", "members": ["serviceAccount:%s", "serviceAccount:%s"]}],
         "etag": "BwX"}
        """
            .formatted(ALICE, BOB));

    Sandbox.Result first = sandbox.run(args());

    assertWithMessage("%s", first).that(first.exitCode()).isEqualTo(0);
    assertThat(first.callsStartingWith("run services remove-iam-policy-binding "))
        .containsExactly(
            "run services remove-iam-policy-binding invoker-guard-svc --region=europe-west1"
                + " --project=host-proj --member=allUsers --role=roles/run.servicesInvoker"
                + " --quiet",
            "run services remove-iam-policy-binding invoker-guard-svc --region=europe-west1"
                + " --project=host-proj --member=user:boss@example.com --role=roles/run.admin"
                + " --quiet")
        .inOrder();
    assertThat(first.stderr())
        .contains("PUBLIC ACCESS: allUsers holds roles/run.servicesInvoker on invoker-guard");
    assertThat(first.stderr())
        .contains(
            "user:eve@example.com holds projects/host-proj/roles/caller on invoker-guard, which"
                + " may carry the invoke permission");
    String converged = sandbox.readState("iam.json");
    assertThat(converged).doesNotContain("allUsers");
    assertThat(converged).doesNotContain("boss@example.com");
    assertThat(converged).contains("auditor@example.com");
    assertThat(converged).contains("eve@example.com");

    Sandbox.Result second = sandbox.run(args());
    assertWithMessage("%s", second).that(second.exitCode()).isEqualTo(0);
    assertThat(second.stdout()).contains("no IAM changes");
  }

  @Test
  void dryRun_printsEveryCommandInOrderAndRunsNoneThatChangeAnything() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    String before = policy("roles/run.invoker", "allUsers", "serviceAccount:" + ALICE);
    sandbox.writeState("iam.json", before);

    Sandbox.Result result = sandbox.run(args("--dry-run"));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.mutatingCalls()).isEmpty();
    assertThat(sandbox.readState("iam.json")).isEqualTo(before);
    // The reads as [read] lines, each planned change as one JSON line, in order.
    List<String> printed =
        result
            .stdout()
            .lines()
            .filter(line -> line.startsWith("[") || line.startsWith("{"))
            .map(
                line ->
                    line.startsWith("{")
                        ? "[dry-run] "
                            + DryRunConfigs.command(JsonParser.parseString(line).getAsJsonObject())
                        : line)
            .toList();
    assertThat(printed).hasSize(9);
    assertThat(printed.get(0)).startsWith("[read] gcloud auth list");
    assertThat(printed.get(1)).startsWith("[read] gcloud projects describe host-proj");
    assertThat(printed.get(2)).startsWith("[read] gcloud functions describe invoker-guard");
    // Read before the deploy too: on 2nd gen gcloud's deploy drops allUsers quietly.
    assertThat(printed.get(3)).startsWith("[read] gcloud run services get-iam-policy");
    // The service's invoker IAM check, before the deploy (trust mode goes out only behind it).
    assertThat(printed.get(4)).startsWith("[read] gcloud run services describe invoker-guard-svc");
    assertThat(printed.get(5)).startsWith("[dry-run] gcloud functions deploy invoker-guard");
    assertThat(printed.get(6)).startsWith("[read] gcloud run services get-iam-policy");
    assertThat(printed.get(7))
        .startsWith("[dry-run] gcloud functions remove-invoker-policy-binding invoker-guard");
    assertThat(printed.get(7)).contains("--member=allUsers");
    assertThat(printed.get(8))
        .isEqualTo(
            "[dry-run] gcloud functions add-invoker-policy-binding invoker-guard"
                + " --region=europe-west1 --project=host-proj --gen2 --member=serviceAccount:"
                + BOB
                + " --quiet");
    // Each JSON line is the action as planned: the sentence and what is recorded if it fails.
    JsonObject grant = DryRunConfigs.actions(result.stdout()).get(2);
    assertThat(grant.get("say").getAsString())
        .isEqualTo("Granting roles/run.invoker to serviceAccount:" + BOB);
    assertThat(result.stdout()).contains("\nGranting roles/run.invoker to serviceAccount:" + BOB);
    assertThat(grant.get("failure").getAsString())
        .isEqualTo("granting roles/run.invoker to serviceAccount:" + BOB);
    assertThat(grant.getAsJsonObject("refusal").get("match").getAsString())
        .contains("permitted customer");
    assertThat(result.stdout()).contains("Dry run: nothing was changed.");
  }

  @Test
  void dryRun_withoutBuiltArtifact_printsTheBuildAndDoesNotRunIt() throws Exception {
    Path repo = copyOfScriptIn(temp.resolve("repo"));
    Sandbox.Result result =
        sandbox.runScript(
            repo.resolve("deploy.sh"),
            Map.of(),
            "--project",
            PROJECT,
            "--region",
            REGION,
            "--allow",
            ALICE,
            "--dry-run");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.stdout()).contains("-q -pl function -am package -DskipTests");
    assertThat(Files.exists(repo.resolve("mvnw.log"))).isFalse();
    assertThat(result.mutatingCalls()).isEmpty();
  }

  @Test
  void missingDefaultArtifact_isBuiltWithTheWrapperThenDeployed() throws Exception {
    Path repo = copyOfScriptIn(temp.resolve("repo"));
    sandbox.writeState("describe.json", GEN2_FUNCTION);

    Sandbox.Result result =
        sandbox.runScript(
            repo.resolve("deploy.sh"),
            Map.of(),
            "--project",
            PROJECT,
            "--region",
            REGION,
            "--allow",
            ALICE);

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(Files.readString(repo.resolve("mvnw.log")).trim())
        .isEqualTo("-q -pl function -am package -DskipTests");
    assertThat(words(result.callsStartingWith("functions deploy ").get(0)))
        .contains("--source=" + repo.resolve("function/target/deploy"));
  }

  @Test
  void builtDefaultArtifact_isDeployedWithoutRebuilding() throws Exception {
    Path repo = copyOfScriptIn(temp.resolve("repo"));
    Path deployDir = Files.createDirectories(repo.resolve("function/target/deploy"));
    Files.write(deployDir.resolve("function.jar"), new byte[] {'P', 'K', 3, 4});
    sandbox.writeState("describe.json", GEN2_FUNCTION);

    Sandbox.Result result =
        sandbox.runScript(
            repo.resolve("deploy.sh"),
            Map.of(),
            "--project",
            PROJECT,
            "--region",
            REGION,
            "--allow",
            ALICE);

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(Files.exists(repo.resolve("mvnw.log"))).isFalse();
    assertThat(words(result.callsStartingWith("functions deploy ").get(0)))
        .contains("--source=" + deployDir);
  }

  /**
   * A repository stand-in: deploy.sh, the planner's jar, and an mvnw that records its arguments and
   * builds a jar.
   */
  private static Path copyOfScriptIn(Path repo) throws Exception {
    Files.createDirectories(repo);
    Files.copy(Tools.repositoryRoot().resolve("deploy.sh"), repo.resolve("deploy.sh"));
    // The planner as built by this build: the stand-in repository holds no sources to rebuild.
    Path planner = Files.createDirectories(repo.resolve("deploy-plan/target"));
    Files.copy(Tools.plannerJar(), planner.resolve("deploy-plan.jar"));
    Path mvnw = repo.resolve("mvnw");
    Files.writeString(
        mvnw,
        """
        #!/usr/bin/env bash
        set -euo pipefail
        printf '%s\\n' "$*" >> mvnw.log
        mkdir -p function/target/deploy
        printf 'PK' > function/target/deploy/invoker-guard-function.jar
        """);
    assertThat(mvnw.toFile().setExecutable(true)).isTrue();
    return repo;
  }

  @Test
  void settings_fromEnvironmentVariables_withCommaSeparatedAllowlist() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    Sandbox.Result result =
        sandbox.run(
            Map.of(
                "INVOKER_GUARD_PROJECT",
                PROJECT,
                "INVOKER_GUARD_REGION",
                REGION,
                "INVOKER_GUARD_ALLOW",
                ALICE + " , " + BOB,
                "INVOKER_GUARD_NAME",
                NAME,
                "INVOKER_GUARD_SOURCE",
                sandbox.source().toString(),
                "INVOKER_GUARD_DRY_RUN",
                "true"));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.mutatingCalls()).isEmpty();
    assertThat(result.stdout()).contains("Allowlist: " + ALICE + "," + BOB);
  }

  @Test
  void settings_fromEnvFile_areReadLiterallyAndNeverExecuted() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    Path marker = temp.resolve("executed");
    Path envFile = temp.resolve("deploy.env");
    Files.writeString(
        envFile,
        "# host settings\n"
            + "INVOKER_GUARD_PROJECT=\""
            + PROJECT
            + "\"\n"
            + "\n"
            + "INVOKER_GUARD_REGION='"
            + REGION
            + "'\n"
            + "INVOKER_GUARD_ALLOW="
            + ALICE
            + ","
            + BOB
            + "\n"
            + "INVOKER_GUARD_SOURCE="
            + sandbox.source()
            + "\n"
            + "INVOKER_GUARD_NAME=$(touch "
            + marker
            + ")\n");

    Sandbox.Result withInjection = sandbox.run("--env-file", envFile.toString(), "--dry-run");

    assertThat(withInjection.exitCode()).isEqualTo(2);
    assertThat(withInjection.stderr()).contains("is not a valid function name");
    assertThat(Files.exists(marker)).isFalse();
    assertThat(withInjection.calls()).isEmpty();

    // The command line wins over the file.
    Sandbox.Result overridden =
        sandbox.run("--env-file", envFile.toString(), "--name", NAME, "--dry-run");

    assertWithMessage("%s", overridden).that(overridden.exitCode()).isEqualTo(0);
    assertThat(overridden.stdout()).contains("Allowlist: " + ALICE + "," + BOB);
    assertThat(overridden.mutatingCalls()).isEmpty();
  }

  @Test
  void environment_winsOverEnvFile_andCommandLineWinsOverEnvironment() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    Path envFile = temp.resolve("deploy.env");
    Files.writeString(
        envFile, "INVOKER_GUARD_PROJECT=file-project\nINVOKER_GUARD_REGION=us-east1\n");

    Sandbox.Result result =
        sandbox.run(
            Map.of("INVOKER_GUARD_PROJECT", "env-project", "INVOKER_GUARD_REGION", "us-west1"),
            "--env-file",
            envFile.toString(),
            "--region",
            REGION,
            "--allow",
            ALICE,
            "--source",
            sandbox.source().toString(),
            "--dry-run");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.stdout()).contains("(2nd gen, europe-west1, env-project)");
  }

  @Test
  void notAuthenticated_stopsWithExit2BeforeAnyChange() throws Exception {
    sandbox.deleteState("account");

    Sandbox.Result result = sandbox.run(args());

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr().strip())
        .isEqualTo("deploy.sh: error: gcloud is not authenticated: run 'gcloud auth login'");
    assertThat(result.calls()).hasSize(1);
    assertThat(result.mutatingCalls()).isEmpty();
  }

  @Test
  void existingFunctionOfTheOtherGeneration_stopsWithExit2BeforeAnyChange() throws Exception {
    sandbox.writeState("describe.json", GEN1_FUNCTION);

    Sandbox.Result result = sandbox.run(args());

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr()).contains("exists as 1st gen: rerun with --gen1");
    assertThat(result.mutatingCalls()).isEmpty();
  }

  @Test
  void describeFailingForAnotherReason_stopsBeforeDeploying() throws Exception {
    sandbox.writeState(
        "describe.error",
        "ERROR: (gcloud.functions.describe) PERMISSION_DENIED: Permission denied\n");

    Sandbox.Result result = sandbox.run(args());

    assertThat(result.exitCode()).isEqualTo(1);
    assertThat(result.stderr()).contains("PERMISSION_DENIED");
    assertThat(result.mutatingCalls()).isEmpty();
  }

  @Test
  void dryRun_ofFunctionNotYetDeployed_plansGrantsForTheWholeAllowlist() throws Exception {
    Sandbox.Result result = sandbox.run(args("--dry-run"));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.mutatingCalls()).isEmpty();
    assertThat(result.calls().stream().filter(c -> c.contains("get-iam-policy")).toList())
        .isEmpty();
    assertThat(
            DryRunConfigs.commands(result.stdout()).stream()
                .filter(
                    c -> c.startsWith("gcloud functions add-invoker-policy-binding invoker-guard"))
                .map(c -> c.replaceAll(".*--member=", ""))
                .toList())
        .containsExactly(
            "serviceAccount:" + ALICE + " --quiet", "serviceAccount:" + BOB + " --quiet")
        .inOrder();
    assertThat(result.stdout()).contains("2 IAM change(s) planned, none made");
  }

  @Test
  void runtimeServiceAccount_isPassedToDeploy() throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);

    Sandbox.Result result =
        sandbox.run(args("--service-account", "Runtime@Host-Proj.iam.gserviceaccount.com"));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(words(result.callsStartingWith("functions deploy ").get(0)))
        .contains("--service-account=runtime@host-proj.iam.gserviceaccount.com");
  }

  @Test
  void jqMissing_stopsWithExit2BeforeAnyGcloudCall() throws Exception {
    Path bin = Files.createDirectories(temp.resolve("no-jq-bin"));
    copyExecutable(temp.resolve("bin/gcloud"), bin.resolve("gcloud"));
    copyExecutable(Tools.which("dirname"), bin.resolve("dirname"));

    Sandbox.Result result = sandbox.run(Map.of("PATH", bin.toString()), args());

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr().strip())
        .isEqualTo("deploy.sh: error: jq not found on PATH: install jq (Debian package jq)");
    assertThat(result.calls()).isEmpty();
  }

  // A copy, not a symlink: JUnit's temp-dir cleanup warns about links that leave the directory.
  private static void copyExecutable(Path from, Path to) throws Exception {
    Files.copy(from, to);
    assertThat(to.toFile().setExecutable(true)).isTrue();
  }

  @Test
  void gcloudMissing_stopsWithExit2() throws Exception {
    Path bin = Files.createDirectories(temp.resolve("no-gcloud-bin"));
    copyExecutable(Tools.which("dirname"), bin.resolve("dirname"));

    Sandbox.Result result = sandbox.run(Map.of("PATH", bin.toString()), args());

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr()).contains("gcloud not found on PATH");
    assertThat(result.calls()).isEmpty();
  }

  @Test
  void help_printsUsageWithEnvironmentVariablesAndCallsNothing() throws Exception {
    Sandbox.Result result = sandbox.run("--help");

    assertThat(result.exitCode()).isEqualTo(0);
    assertThat(result.stdout()).contains("Usage: ./deploy.sh --project HOST_PROJECT");
    assertThat(result.stdout()).contains("INVOKER_GUARD_ALLOW (comma-separated)");
    assertThat(result.stdout()).contains("--env-file FILE");
    assertThat(result.calls()).isEmpty();
  }

  static Stream<Arguments> badInputs() {
    String ok = ALICE;
    return Stream.of(
        Arguments.of("no project", List.of("--region", REGION, "--allow", ok), "no project"),
        Arguments.of(
            "bad project",
            List.of("--project", "Host_Proj", "--region", REGION, "--allow", ok),
            "not a valid project ID"),
        Arguments.of("no region", List.of("--project", PROJECT, "--allow", ok), "no region"),
        Arguments.of(
            "bad region",
            List.of("--project", PROJECT, "--region", "europe west1", "--allow", ok),
            "not a valid region"),
        Arguments.of(
            "no allowlist",
            List.of("--project", PROJECT, "--region", REGION),
            "no allowlisted caller"),
        Arguments.of(
            "user account",
            List.of("--project", PROJECT, "--region", REGION, "--allow", "someone@gmail.com"),
            "'someone@gmail.com' is not a service-account email"),
        Arguments.of(
            "lookalike domain",
            List.of(
                "--project",
                PROJECT,
                "--region",
                REGION,
                "--allow",
                "a@x.iam.gserviceaccount.com.evil.example"),
            "is not a service-account email"),
        Arguments.of(
            "IAM member prefix",
            List.of("--project", PROJECT, "--region", REGION, "--allow", "serviceAccount:" + ok),
            "is not a service-account email"),
        Arguments.of(
            "trailing comma",
            List.of("--project", PROJECT, "--region", REGION, "--allow", ok + ","),
            "empty entry in the allowlist"),
        Arguments.of(
            "bad name",
            List.of("--project", PROJECT, "--region", REGION, "--allow", ok, "--name", "Bad_Name"),
            "not a valid function name"),
        Arguments.of(
            "bad runtime",
            List.of(
                "--project", PROJECT, "--region", REGION, "--allow", ok, "--runtime", "nodejs20"),
            "not a Java runtime"),
        Arguments.of(
            "bad runtime service account",
            List.of(
                "--project",
                PROJECT,
                "--region",
                REGION,
                "--allow",
                ok,
                "--service-account",
                "me@example.com"),
            "--service-account 'me@example.com' is not a service-account email"),
        Arguments.of(
            "unknown option",
            List.of("--project", PROJECT, "--region", REGION, "--allow", ok, "--public"),
            "unknown argument '--public'"),
        Arguments.of(
            "option without value",
            List.of("--project", PROJECT, "--region", REGION, "--allow"),
            "--allow needs a value"),
        Arguments.of(
            "alert option without --monitoring",
            List.of(
                "--project",
                PROJECT,
                "--region",
                REGION,
                "--allow",
                ok,
                "--denied-alert-threshold",
                "5"),
            "the alert options need --monitoring or --monitoring-only"),
        Arguments.of(
            "alert window out of range",
            List.of(
                "--project",
                PROJECT,
                "--region",
                REGION,
                "--monitoring-only",
                "--alert-window-minutes",
                "0"),
            "--alert-window-minutes must be a whole number from 1 to 60, got '0'"),
        Arguments.of(
            "denied threshold not a number",
            List.of(
                "--project",
                PROJECT,
                "--region",
                REGION,
                "--monitoring",
                "--allow",
                ok,
                "--denied-alert-threshold",
                "ten"),
            "--denied-alert-threshold must be a whole number from 1 to 1000000"),
        Arguments.of(
            "bad notification channel",
            List.of(
                "--project",
                PROJECT,
                "--region",
                REGION,
                "--monitoring-only",
                "--notification-channel",
                "projects/other/notificationChannels/x"),
            "is not a channel ID or projects/PROJECT/notificationChannels/ID"),
        Arguments.of(
            "smoke test without a deploy",
            List.of(
                "--project",
                PROJECT,
                "--region",
                REGION,
                "--monitoring-only",
                "--allow",
                ok,
                "--smoke-test",
                ok),
            "--smoke-test needs a deploy"),
        Arguments.of(
            "monitoring-only still needs a project",
            List.of("--region", REGION, "--monitoring-only"),
            "no project"),
        Arguments.of(
            "missing env file",
            List.of("--env-file", "/nonexistent/deploy.env"),
            "is not a readable file"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badInputs")
  void badInput_oneLineOnStderr_exit2_noGcloudCall(
      String description, List<String> arguments, String expected) throws Exception {
    sandbox.writeState("describe.json", GEN2_FUNCTION);
    List<String> all = new java.util.ArrayList<>(arguments);
    all.addAll(List.of("--source", sandbox.source().toString()));

    Sandbox.Result result = sandbox.run(all.toArray(String[]::new));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr().lines().toList()).hasSize(1);
    assertThat(result.stderr()).startsWith("deploy.sh: error: ");
    assertThat(result.stderr()).contains(expected);
    assertThat(result.calls()).isEmpty();
  }

  static Stream<Arguments> badSources() {
    return Stream.of(
        Arguments.of("missing", List.<String>of(), "does not exist"),
        Arguments.of("empty", List.of(), "holds no jar"),
        Arguments.of("two jars", List.of("a.jar", "b.jar"), "holds 2 jars; expected exactly one"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badSources")
  void badSourceDirectory_exit2_noGcloudCall(String kind, List<String> jars, String expected)
      throws Exception {
    Path dir = temp.resolve("artifact-" + kind.replace(' ', '-'));
    if (!kind.equals("missing")) {
      Files.createDirectories(dir);
      for (String jar : jars) {
        Files.writeString(dir.resolve(jar), "PK");
      }
    }

    Sandbox.Result result =
        sandbox.run(
            "--project", PROJECT, "--region", REGION, "--allow", ALICE, "--source", dir.toString());

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr().lines().toList()).hasSize(1);
    assertThat(result.stderr()).contains(expected);
    assertThat(result.calls()).isEmpty();
  }

  static Stream<Arguments> badEnvFiles() {
    return Stream.of(
        Arguments.of("not key value", "just some words\n", "line 1: expected KEY=VALUE"),
        Arguments.of(
            "unknown key", "# c\nINVOKER_GUARD_PROJEKT=host-proj\n", "line 2: unknown key"),
        Arguments.of("bad boolean", "INVOKER_GUARD_GEN1=maybe\n", "INVOKER_GUARD_GEN1 must be"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badEnvFiles")
  void badEnvFile_exit2_noGcloudCall(String kind, String content, String expected)
      throws Exception {
    Path envFile = temp.resolve("bad.env");
    Files.writeString(envFile, content);

    Sandbox.Result result = sandbox.run(args("--env-file", envFile.toString()));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(2);
    assertThat(result.stderr().lines().toList()).hasSize(1);
    assertThat(result.stderr()).contains(expected);
    assertThat(result.calls()).isEmpty();
  }
}
