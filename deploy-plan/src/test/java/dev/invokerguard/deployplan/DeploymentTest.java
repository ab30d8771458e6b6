package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The deploy step: generation check, expected audiences, the environment update, the call. */
class DeploymentTest {
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String ALICE_ID = "111111111111111111111";
  private static final String FUNCTIONS_URL =
      "https://europe-west1-host-proj.cloudfunctions.net/invoker-guard";
  private static final String DETERMINISTIC_URL =
      "https://invoker-guard-123456789012.europe-west1.run.app";
  private static final String GEN2 =
      """
      {"environment": "GEN_2",
       "serviceConfig": {"uri": "https://invoker-guard-abc123-ew.a.run.app",
         "service": "projects/host-proj/locations/europe-west1/services/invoker-guard-svc"}}
      """;
  private static final String GEN1 =
      """
      {"httpsTrigger": {"url": "https://europe-west1-host-proj.cloudfunctions.net/invoker-guard"}}
      """;

  private static Options options(String... extra) {
    List<String> args = new java.util.ArrayList<>(List.of("--allow", ALICE));
    args.addAll(List.of(extra));
    return TestOptions.of(args.toArray(String[]::new));
  }

  private static Deployment deployment(Options options, String function) {
    Optional<JsonObject> described =
        function == null
            ? Optional.empty()
            : Optional.of(JsonParser.parseString(function).getAsJsonObject());
    return new Deployment(options, "123456789012", described);
  }

  @Test
  void gen2_beforeTheFirstDeploy_expectsTheFunctionsUrlAndTheDeterministicUrl() {
    Deployment deployment = deployment(options(), null);

    assertThat(deployment.audiences()).containsExactly(FUNCTIONS_URL, DETERMINISTIC_URL).inOrder();
    assertThat(deployment.url()).isEqualTo(DETERMINISTIC_URL);
    assertThat(deployment.service()).isEqualTo("invoker-guard");
  }

  @Test
  void gen2_deployed_addsServiceConfigUri_thenCustomAudiences() {
    Deployment deployment = deployment(options("--audience", "https://api.example.com"), GEN2);

    assertThat(deployment.audiences())
        .containsExactly(
            FUNCTIONS_URL,
            DETERMINISTIC_URL,
            "https://invoker-guard-abc123-ew.a.run.app",
            "https://api.example.com")
        .inOrder();
    assertThat(deployment.url()).isEqualTo("https://invoker-guard-abc123-ew.a.run.app");
    assertThat(deployment.service()).isEqualTo("invoker-guard-svc");
  }

  @Test
  void gen1_expectsItsCloudfunctionsUrl() {
    Deployment deployment = deployment(options("--gen1"), GEN1);

    assertThat(deployment.audiences()).containsExactly(FUNCTIONS_URL);
    assertThat(deployment.url()).isEqualTo(FUNCTIONS_URL);
  }

  @Test
  void urlOfAnUnexpectedShape_failsClosed() {
    Deployment deployment =
        deployment(options(), "{\"serviceConfig\": {\"uri\": \"https://evil.example.com\"}}");

    IllegalStateException e = assertThrows(IllegalStateException.class, deployment::audiences);
    assertThat(e).hasMessageThat().contains("unexpected serviceConfig.uri");
  }

  @Test
  void functionOfTheOtherGeneration_isRefused() {
    assertThat(
            assertThrows(UsageError.class, () -> deployment(options(), GEN1).checkGeneration())
                .getMessage())
        .isEqualTo(
            "function invoker-guard exists as 1st gen: rerun with --gen1 (or delete it first)");
    assertThat(
            assertThrows(
                    UsageError.class, () -> deployment(options("--gen1"), GEN2).checkGeneration())
                .getMessage())
        .contains("exists as 2nd gen: rerun without --gen1");
  }

  @Test
  void environment_ownedVariablesOnly_inAStableOrder_acceptedByTheGuardsReader() {
    Options options =
        options(
            "--allow", "Dave@D.iam.gserviceaccount.com=" + ALICE_ID, "--clock-skew-seconds", "30");
    Deployment deployment = deployment(options, GEN2);
    Callers callers = Callers.of(options, new JsonObject());

    Map<String, String> vars = deployment.environment(callers, deployment.audiences());

    assertThat(vars.keySet())
        .containsExactly(
            "ALLOWED_INVOKERS",
            "EXPECTED_AUDIENCES",
            "GOOGLE_CLOUD_PROJECT",
            "FUNCTION_GENERATION",
            "CLOCK_SKEW_SECONDS")
        .inOrder();
    // A pinned entry puts only its ID in the allowlist.
    assertThat(vars.get("ALLOWED_INVOKERS")).isEqualTo(ALICE + "," + ALICE_ID);
    assertThat(Deployment.updateEnvVars(vars))
        .startsWith(
            "^|^ALLOWED_INVOKERS="
                + ALICE
                + ","
                + ALICE_ID
                + "|EXPECTED_AUDIENCES="
                + FUNCTIONS_URL);
  }

  @Test
  void deployCall_requiresAuthentication_namesTheGeneration_andTheRuntimeAccountLowerCased() {
    Options options = options("--service-account", "Runtime@Host-Proj.iam.gserviceaccount.com");
    Deployment deployment = deployment(options, null);
    Map<String, String> vars =
        deployment.environment(Callers.of(options, new JsonObject()), deployment.audiences());

    List<String> call = deployment.deployCall("/tmp/src", vars);

    assertThat(call.subList(0, 3))
        .containsExactly("functions", "deploy", "invoker-guard")
        .inOrder();
    assertThat(call)
        .containsAtLeast(
            "--region=europe-west1",
            "--project=host-proj",
            "--gen2",
            "--trigger-http",
            "--no-allow-unauthenticated",
            "--source=/tmp/src",
            "--service-account=runtime@host-proj.iam.gserviceaccount.com",
            "--quiet");
    assertThat(call).doesNotContain("--allow-unauthenticated");
  }

  @Test
  void callers_idAloneGetsItsEmail_pinIdsPinsWhereReadable_warnsWhereNot() {
    String bob = "bob@client-two.iam.gserviceaccount.com";
    Options options = options("--allow", "222222222222222222222", "--allow", bob, "--pin-ids");
    JsonObject reads = new JsonObject();
    reads.addProperty("222222222222222222222", "Carol@C.iam.gserviceaccount.com");
    reads.addProperty(ALICE, ALICE_ID);
    reads.addProperty(bob, "");

    Callers callers = Callers.of(options, reads);

    assertThat(
            Callers.reads(options).stream()
                .map(read -> JsonParser.parseString(read).getAsJsonObject())
                .map(read -> read.get("key").getAsString() + " " + read.get("gcloud"))
                .toList())
        .containsExactly(
            ALICE
                + " [\"iam\",\"service-accounts\",\"describe\",\""
                + ALICE
                + "\",\"--format=value(uniqueId)\"]",
            "222222222222222222222 [\"iam\",\"service-accounts\",\"describe\","
                + "\"222222222222222222222\",\"--format=value(email)\"]",
            bob
                + " [\"iam\",\"service-accounts\",\"describe\",\""
                + bob
                + "\",\"--format=value(uniqueId)\"]")
        .inOrder();
    assertThat(callers.emails())
        .containsExactly(ALICE, "carol@c.iam.gserviceaccount.com", bob)
        .inOrder();
    assertThat(callers.invokers())
        .containsExactly(ALICE_ID, "222222222222222222222", bob)
        .inOrder();
    assertThat(callers.warnings()).hasSize(1);
    assertThat(callers.warnings().get(0)).contains("cannot read the unique ID of " + bob);
  }

  @Test
  void callers_idWhoseEmailCannotBeRead_isRefused() {
    Options options = options("--allow", "222222222222222222222");
    UsageError e = assertThrows(UsageError.class, () -> Callers.of(options, new JsonObject()));
    assertThat(e).hasMessageThat().contains("--allow EMAIL=222222222222222222222");
  }

  private static Map<String, String> vars(String audiences, String trust) {
    Map<String, String> vars = new LinkedHashMap<>();
    vars.put("ALLOWED_INVOKERS", ALICE);
    vars.put("EXPECTED_AUDIENCES", audiences);
    if (trust != null) {
      vars.put("TRUST_PLATFORM_VERIFIED_TOKENS", trust);
    }
    return vars;
  }

  /** The deploy action that went out, as deploy.sh records it in the fact {@code deployed}. */
  private static Optional<JsonElement> sent(Map<String, String> vars) {
    Deployment deployment = deployment(options(), null);
    return Optional.of(
        JsonParser.parseString(
            Plan.actionJson(
                "Deploying",
                deployment.deployCall("function/target/deploy", vars),
                "gcloud functions deploy invoker-guard",
                null,
                null,
                null)));
  }

  @Test
  void redeploy_whenTheUrlIsKnownOnlyAfterTheFirstDeploy_sayingWhy() {
    Deployment deployment = deployment(options(), GEN2);
    String before = FUNCTIONS_URL + "," + DETERMINISTIC_URL;
    String after = before + ",https://invoker-guard-abc123-ew.a.run.app";

    assertThat(deployment.redeploy(sent(vars(before, null)), vars(after, null)))
        .hasValue(
            "The function answers at a URL it did not know yet: redeploying with"
                + " EXPECTED_AUDIENCES="
                + after);
    assertThat(deployment.redeploy(sent(vars(after, null)), vars(after, null))).isEmpty();
  }

  @Test
  void redeploy_whenTrustModeIsHeldOrReleasedByTheCheck_sayingWhy() {
    Deployment deployment = deployment(options(), GEN2);

    assertThat(deployment.redeploy(sent(vars("a", "false")), vars("a", "true")))
        .hasValue(
            "Redeploying with TRUST_PLATFORM_VERIFIED_TOKENS=true: the invoker IAM check now"
                + " reads on");
    assertThat(deployment.redeploy(sent(vars("a", "true")), vars("a", "false")))
        .hasValue(
            "Redeploying with TRUST_PLATFORM_VERIFIED_TOKENS=false: the invoker IAM check now"
                + " reads off or unknown");
  }

  @Test
  void redeploy_neverBeforeADeployWentOut_norAfterAFailedOne() {
    Deployment deployment = deployment(options(), GEN2);

    assertThat(deployment.redeploy(Optional.empty(), vars("a", "true"))).isEmpty();
    assertThat(deployment.redeploy(Optional.of(new JsonPrimitive(true)), vars("a", "true")))
        .isEmpty();
  }
}
