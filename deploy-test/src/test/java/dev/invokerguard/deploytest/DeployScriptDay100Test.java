package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What deploy.sh decides before and between its gcloud calls (issue 13), against the recording fake
 * gcloud: settings and their checks, pinned entries, audiences, convergence past failures,
 * conditional bindings, the organization-policy message. What Google does with the calls is shown
 * with the real gcloud against the stand-in in {@code DeployScriptJourneyIT}.
 */
class DeployScriptDay100Test {
  private static final String PROJECT = "host-proj";
  private static final String REGION = "europe-west1";
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String BOB = "bob@client-two.iam.gserviceaccount.com";
  private static final String ALICE_ID = "111111111111111111111";
  private static final String BOB_ID = "222222222222222222222";
  private static final String GEN2_FUNCTION =
      """
      {"name": "projects/host-proj/locations/europe-west1/functions/invoker-guard",
       "environment": "GEN_2",
       "serviceConfig": {"uri": "https://invoker-guard-abc123-ew.a.run.app",
         "service": "projects/host-proj/locations/europe-west1/services/invoker-guard"}}
      """;
  private static final String REMOVE =
      "functions remove-invoker-policy-binding invoker-guard --region=europe-west1"
          + " --project=host-proj --gen2 --member=";
  private static final String ADD =
      "functions add-invoker-policy-binding invoker-guard --region=europe-west1"
          + " --project=host-proj --gen2 --member=";

  @TempDir Path temp;
  private Sandbox sandbox;

  @BeforeEach
  void setUp() throws Exception {
    sandbox = Sandbox.create(temp);
    sandbox.writeState("describe.json", GEN2_FUNCTION);
  }

  private Sandbox.Result run(String... extra) throws Exception {
    List<String> all =
        new ArrayList<>(
            List.of(
                "--project", PROJECT, "--region", REGION, "--source", sandbox.source().toString()));
    all.addAll(List.of(extra));
    return sandbox.run(all.toArray(String[]::new));
  }

  private static Map<String, String> envVarsOf(Sandbox.Result result) {
    List<String> deploys = result.callsStartingWith("functions deploy ");
    assertWithMessage("%s", result).that(deploys).isNotEmpty();
    String flag =
        List.of(deploys.get(deploys.size() - 1).split(" ")).stream()
            .filter(word -> word.startsWith("--update-env-vars="))
            .findFirst()
            .orElseThrow();
    return GcloudDictFlag.parse(flag.substring("--update-env-vars=".length()));
  }

  // --- 1. settings -------------------------------------------------------------------------

  @Test
  void guardSettings_fromCommandLineAndEnvFile_setOnlyWhenGiven() throws Exception {
    Path envFile = temp.resolve("guard.env");
    Files.writeString(
        envFile, "INVOKER_GUARD_KEY_REFETCH_INTERVAL_SECONDS=30\nINVOKER_GUARD_ALLOW=" + ALICE);
    Sandbox.Result result =
        run(
            "--env-file",
            envFile.toString(),
            "--clock-skew-seconds",
            "5",
            "--trust-platform-verified-tokens=true");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    Map<String, String> env = envVarsOf(result);
    assertThat(env).containsEntry("CLOCK_SKEW_SECONDS", "5");
    assertThat(env).containsEntry("KEY_REFETCH_INTERVAL_SECONDS", "30");
    assertThat(env).containsEntry("TRUST_PLATFORM_VERIFIED_TOKENS", "true");
    assertThat(env).containsEntry("FUNCTION_GENERATION", "gen2");
    assertThat(env).containsEntry("GOOGLE_CLOUD_PROJECT", PROJECT);
    assertThat(env).doesNotContainKey("KEY_FETCH_TIMEOUT_SECONDS");
  }

  @Test
  void guardSettings_outOfGuardConfigRange_orTrustOnGen1_exit2BeforeAnyCall() throws Exception {
    for (List<String> bad :
        List.of(
            List.of("--clock-skew-seconds", "301"),
            List.of("--key-fetch-timeout-seconds", "0"),
            List.of("--key-refetch-interval-seconds", "3601"),
            List.of("--trust-platform-verified-tokens", "yes"),
            List.of("--trust-platform-verified-tokens", "true", "--gen1"),
            List.of("--audience", "https://custom.example.com", "--gen1"),
            List.of("--audience", "http://plain.example.com"),
            List.of("--entry-point", "not a class"))) {
      List<String> args = new ArrayList<>(List.of("--allow", ALICE));
      args.addAll(bad);
      Sandbox.Result result = run(args.toArray(String[]::new));
      assertWithMessage("%s\n%s", bad, result).that(result.exitCode()).isEqualTo(2);
      assertWithMessage("%s", bad).that(result.calls()).isEmpty();
    }
  }

  // --- 2. unique IDs -------------------------------------------------------------------------

  @Test
  void allow_emailEqualsId_grantsTheEmail_listsOnlyTheId_andSaysWhichArePinned() throws Exception {
    Sandbox.Result result = run("--allow", ALICE + "=" + ALICE_ID, "--allow", BOB);

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(envVarsOf(result)).containsEntry("ALLOWED_INVOKERS", ALICE_ID + "," + BOB);
    assertThat(result.mutatingCalls())
        .containsAtLeast(
            ADD + "serviceAccount:" + ALICE + " --quiet",
            ADD + "serviceAccount:" + BOB + " --quiet");
    assertThat(result.stdout()).contains(ALICE + " pinned to unique ID " + ALICE_ID);
    assertThat(result.stdout()).contains(BOB + " not pinned");
    assertThat(result.calls().stream().filter(c -> c.startsWith("iam ")).toList()).isEmpty();
  }

  @Test
  void pinIds_readsTheIdWhereAllowed_andLeavesTheOtherUnpinnedWithAWarning() throws Exception {
    sandbox.writeState("service-accounts", ALICE + " " + ALICE_ID + "\n");

    Sandbox.Result result = run("--allow", ALICE, "--allow", BOB, "--pin-ids");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(envVarsOf(result)).containsEntry("ALLOWED_INVOKERS", ALICE_ID + "," + BOB);
    assertThat(result.stderr()).contains("cannot read the unique ID of " + BOB);
    assertThat(result.stdout()).contains(BOB + " not pinned");
  }

  @Test
  void allow_idAlone_readsTheEmailForTheGrant_orStopsWithExit2() throws Exception {
    sandbox.writeState("service-accounts", BOB + " " + BOB_ID + "\n");
    Sandbox.Result ok = run("--allow", BOB_ID);
    assertWithMessage("%s", ok).that(ok.exitCode()).isEqualTo(0);
    assertThat(envVarsOf(ok)).containsEntry("ALLOWED_INVOKERS", BOB_ID);
    assertThat(ok.mutatingCalls()).contains(ADD + "serviceAccount:" + BOB + " --quiet");

    Sandbox.Result unknown = run("--allow", ALICE_ID);
    assertWithMessage("%s", unknown).that(unknown.exitCode()).isEqualTo(2);
    assertThat(unknown.stderr()).contains("--allow EMAIL=" + ALICE_ID);
    assertThat(unknown.mutatingCalls()).isEmpty();
  }

  // --- 3. audiences --------------------------------------------------------------------------

  @Test
  void audience_isExpected_setOnTheService_andEveryAudiencePrinted() throws Exception {
    Sandbox.Result result =
        run(
            "--allow",
            ALICE,
            "--audience",
            "https://api.example.com",
            "--audience",
            "https://other.example.com/x");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    String deterministic = "https://invoker-guard-123456789012.europe-west1.run.app";
    assertThat(envVarsOf(result))
        .containsEntry(
            "EXPECTED_AUDIENCES",
            "https://europe-west1-host-proj.cloudfunctions.net/invoker-guard,"
                + deterministic
                + ",https://invoker-guard-abc123-ew.a.run.app,https://api.example.com,"
                + "https://other.example.com/x");
    assertThat(result.mutatingCalls())
        .contains(
            "run services update invoker-guard --region=europe-west1 --project=host-proj"
                + " --add-custom-audiences=https://api.example.com,https://other.example.com/x"
                + " --quiet");
    for (String audience :
        List.of(deterministic, "https://api.example.com", "https://other.example.com/x")) {
      assertThat(result.stdout()).contains("\n  " + audience + "\n");
    }
  }

  @Test
  void audience_alreadyOnTheService_isNotSetAgain_onlyTheMissingOneIs() throws Exception {
    sandbox.writeState(
        "service.json",
        "{\"kind\": \"Service\", \"metadata\": {\"name\": \"invoker-guard\", \"annotations\":"
            + " {\"run.googleapis.com/custom-audiences\": \"[\\\"https://api.example.com\\\"]\"}}}");

    Sandbox.Result first =
        run(
            "--allow",
            ALICE,
            "--audience",
            "https://api.example.com",
            "--audience",
            "https://other.example.com/x");
    Sandbox.Result second =
        run(
            "--allow",
            ALICE,
            "--audience",
            "https://api.example.com",
            "--audience",
            "https://other.example.com/x");

    assertWithMessage("%s", first).that(first.exitCode()).isEqualTo(0);
    assertThat(first.callsStartingWith("run services update "))
        .containsExactly(
            "run services update invoker-guard --region=europe-west1 --project=host-proj"
                + " --add-custom-audiences=https://other.example.com/x --quiet");
    assertWithMessage("%s", second).that(second.exitCode()).isEqualTo(0);
    assertThat(second.callsStartingWith("run services update ")).isEmpty();
    assertThat(second.stdout()).contains("Custom audiences already set on service invoker-guard");
  }

  // --- 4. entry point and jar ------------------------------------------------------------------

  @Test
  void entryPointAndJarSource_deployAStagedDirectoryHoldingOnlyThatJar() throws Exception {
    Path jar = Files.write(temp.resolve("team-function.jar"), new byte[] {'P', 'K', 3, 4});
    List<String> args = new ArrayList<>(List.of("--project", PROJECT, "--region", REGION));
    args.addAll(
        List.of(
            "--allow",
            ALICE,
            "--entry-point",
            "com.example.TeamFunction",
            "--source",
            jar.toString()));
    Sandbox.Result result = sandbox.run(args.toArray(String[]::new));

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    String deploy = result.callsStartingWith("functions deploy ").get(0);
    assertThat(deploy).contains("--entry-point=com.example.TeamFunction");
    assertThat(deploy).doesNotContain("--source=" + jar);
    assertThat(result.stdout()).contains("entry point com.example.TeamFunction");
  }

  // --- 5. convergence ------------------------------------------------------------------------

  @Test
  void converge_publicFirst_goesOnPastFailures_listsThemAll_exit1() throws Exception {
    sandbox.writeState(
        "iam.json",
        "{\"bindings\": [{\"role\": \"roles/run.invoker\", \"members\": [\"serviceAccount:"
            + "mallory@evil-proj.iam.gserviceaccount.com\", \"user:eve@example.com\","
            + " \"allUsers\"]}], \"etag\": \"BwX\"}");
    sandbox.writeState(
        "fail-members", "serviceAccount:mallory@evil-proj.iam.gserviceaccount.com\n");
    sandbox.writeState("refused-members", "serviceAccount:" + BOB + "\n");

    Sandbox.Result result = run("--allow", ALICE, "--allow", BOB);

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(1);
    List<String> iam =
        result.mutatingCalls().stream().filter(c -> c.contains("invoker-policy-binding")).toList();
    assertThat(iam)
        .containsExactly(
            REMOVE + "allUsers --quiet",
            REMOVE + "serviceAccount:mallory@evil-proj.iam.gserviceaccount.com --quiet",
            REMOVE + "user:eve@example.com --quiet",
            ADD + "serviceAccount:" + ALICE + " --quiet",
            ADD + "serviceAccount:" + BOB + " --quiet")
        .inOrder();
    assertThat(result.stderr()).contains("2 failure(s)");
    assertThat(result.stderr())
        .contains("removing serviceAccount:mallory@evil-proj.iam.gserviceaccount.com");
    assertThat(result.stderr()).contains("constraints/iam.allowedPolicyMemberDomains");
    assertThat(result.stderr()).contains("ask your organization policy administrator");
    String after = sandbox.readState("iam.json");
    assertThat(after).doesNotContain("allUsers");
    assertThat(after).doesNotContain("eve@example.com");
    assertThat(after).contains(ALICE);
  }

  @Test
  void converge_conditionalBinding_reportedLeftAlone_andNotCountedAsGranted() throws Exception {
    String conditional =
        "{\"role\": \"roles/run.invoker\", \"members\": [\"serviceAccount:"
            + ALICE
            + "\","
            + " \"serviceAccount:carol@c.iam.gserviceaccount.com\"], \"condition\":"
            + " {\"title\": \"until-june\", \"expression\": \"request.time < timestamp("
            + "'2026-06-01T00:00:00Z')\"}}";
    String withcond =
        "{\"role\": \"roles/run.invoker_withcond_2b5d\", \"members\": [\"serviceAccount:"
            + BOB
            + "\"]}";
    sandbox.writeState(
        "iam.json",
        "{\"version\": 3, \"bindings\": ["
            + conditional
            + ", "
            + withcond
            + "], \"etag\": \"BwX\"}");

    Sandbox.Result result = run("--allow", ALICE, "--allow", BOB);

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.mutatingCalls())
        .containsAtLeast(
            ADD + "serviceAccount:" + ALICE + " --quiet",
            ADD + "serviceAccount:" + BOB + " --quiet");
    assertThat(result.mutatingCalls().stream().filter(c -> c.contains("remove-invoker")).toList())
        .isEmpty();
    assertThat(result.stderr())
        .contains("conditional binding left alone: serviceAccount:carol@c.iam.gserviceaccount.com");
    assertThat(result.stderr()).contains("under condition 'until-june'");
    assertThat(sandbox.readState("iam.json")).contains("until-june");
  }

  @Test
  void publicAccessFoundBeforeTheDeploy_isReported_evenWhenTheDeployRemovesIt() throws Exception {
    sandbox.writeState(
        "iam.json",
        "{\"bindings\": [{\"role\": \"roles/run.invoker\", \"members\": [\"allUsers\"]}],"
            + " \"etag\": \"BwX\"}");
    // What gcloud's 2nd gen deploy does with --no-allow-unauthenticated: allUsers goes.
    sandbox.writeState("iam-after-deploy.json", "{\"etag\": \"BwY\"}");

    Sandbox.Result result = run("--allow", ALICE);

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertThat(result.stderr()).contains("PUBLIC ACCESS: allUsers held roles/run.invoker");
    assertThat(result.mutatingCalls().stream().filter(c -> c.contains("remove-invoker")).toList())
        .isEmpty();
  }

  // --- 6. smoke test arguments (the run itself: DeployScriptJourneyIT)
  // ----------------------------

  @Test
  void smokeTest_accountNotAllowlisted_exit2_andDryRunDoesNotRunIt() throws Exception {
    Sandbox.Result notListed = run("--allow", ALICE, "--smoke-test", BOB);
    assertWithMessage("%s", notListed).that(notListed.exitCode()).isEqualTo(2);
    assertThat(notListed.stderr()).contains("not on the allowlist");

    Sandbox.Result dryRun = run("--allow", ALICE, "--smoke-test", ALICE, "--dry-run");
    assertWithMessage("%s", dryRun).that(dryRun.exitCode()).isEqualTo(0);
    assertThat(dryRun.stdout()).contains("[dry-run] smoke test as " + ALICE + " not run");
    assertThat(dryRun.mutatingCalls()).isEmpty();
  }
}
