package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The invoker IAM check of the 2nd gen function's service, and the trust-mode gate behind it. */
class InvokerCheckTest {
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String TRUST = "--trust-platform-verified-tokens";

  private static String service(String annotation) {
    String annotations =
        annotation == null
            ? "{\"run.googleapis.com/ingress\": \"all\"}"
            : "{\"run.googleapis.com/invoker-iam-disabled\": \"" + annotation + "\"}";
    return "{\"apiVersion\": \"serving.knative.dev/v1\", \"kind\": \"Service\","
        + " \"metadata\": {\"name\": \"invoker-guard\", \"annotations\": "
        + annotations
        + "}}";
  }

  private static Facts facts(String service, boolean deployed) {
    JsonObject json = new JsonObject();
    if (service == null) {
      json.add("service", JsonNull.INSTANCE);
    } else {
      json.addProperty("service", service);
    }
    if (deployed) {
      json.addProperty("deployed", true);
    }
    return Facts.of(json);
  }

  @Test
  void read_absentOrFalseIsOn_trueOrAnythingElseIsOff_unreadableIsUnknown() {
    assertThat(InvokerCheck.read(facts(service(null), false))).isEqualTo(InvokerCheck.State.ON);
    assertThat(InvokerCheck.read(facts(service("False"), false))).isEqualTo(InvokerCheck.State.ON);
    assertThat(InvokerCheck.read(facts(service("True"), false))).isEqualTo(InvokerCheck.State.OFF);
    assertThat(InvokerCheck.read(facts(service("maybe"), false))).isEqualTo(InvokerCheck.State.OFF);
    assertThat(InvokerCheck.read(facts("{\"invokerIamDisabled\": true}", false)))
        .isEqualTo(InvokerCheck.State.OFF);
    assertThat(InvokerCheck.read(facts(null, false))).isEqualTo(InvokerCheck.State.UNKNOWN);
    assertThat(InvokerCheck.read(facts("not json {", false))).isEqualTo(InvokerCheck.State.UNKNOWN);
  }

  @Test
  void checkOff_isSwitchedOnLoudly() {
    Plan plan =
        InvokerCheck.converge(
            TestOptions.of("--allow", ALICE), "invoker-guard", facts(service("True"), false));

    assertThat(TestOptions.calls(plan))
        .containsExactly(
            List.of(
                "run",
                "services",
                "update",
                "invoker-guard",
                "--region=europe-west1",
                "--project=host-proj",
                "--invoker-iam-check",
                "--quiet"));
    assertThat(plan.of("@warn ").get(0))
        .startsWith(
            "PUBLIC ACCESS: the invoker IAM check of Cloud Run service invoker-guard is off");
    assertThat(plan.of("INVOKER_REPAIR=")).containsExactly("true");
  }

  @Test
  void checkOff_inADryRun_theRepairIsShown_butNotReadBackAfter() {
    Plan plan =
        InvokerCheck.converge(
            TestOptions.of("--allow", ALICE, "--dry-run"),
            "invoker-guard",
            facts(service("True"), false));

    assertThat(TestOptions.calls(plan)).hasSize(1);
    assertThat(plan.of("INVOKER_REPAIR=")).containsExactly("false");
  }

  @Test
  void checkOn_orUnreadable_changesNothing() {
    Options options = TestOptions.of("--allow", ALICE);
    Plan on = InvokerCheck.converge(options, "invoker-guard", facts(service(null), false));
    Plan unknown = InvokerCheck.converge(options, "invoker-guard", facts(null, false));

    assertThat(TestOptions.calls(on)).isEmpty();
    assertThat(on.of("@info ")).containsExactly("Invoker IAM check on service invoker-guard: on.");
    assertThat(TestOptions.calls(unknown)).isEmpty();
    assertThat(unknown.of("@warn ")).hasSize(1);
  }

  @Test
  void trustMode_goesOutOnlyBehindACheckReadOn() {
    Options options = TestOptions.of("--allow", ALICE, TRUST, "true");

    assertThat(gate(options, facts(service(null), false))).isEqualTo("true");
    assertThat(gate(options, facts(service("True"), false))).isEqualTo("false");
    assertThat(gate(options, facts(service("True"), true))).isEqualTo("false");
    assertThat(gate(options, facts(null, false))).isEqualTo("false");
  }

  @Test
  void trustMode_inADryRun_isShownAsAfterTheRepair() {
    Options options = TestOptions.of("--allow", ALICE, TRUST, "true", "--dry-run");

    assertThat(gate(options, facts(service("True"), false))).isEqualTo("true");
    assertThat(InvokerCheck.trust(options, "invoker-guard", facts(service("True"), false)).lines())
        .hasSize(1);
  }

  @Test
  void trustModeOff_isNeverTurnedOn() {
    Options options = TestOptions.of("--allow", ALICE, TRUST, "false");
    Map<String, String> vars = new LinkedHashMap<>(options.guard);

    assertThat(InvokerCheck.gateTrust(options, facts(service(null), false), vars)).isFalse();
    assertThat(vars.get(Options.TRUST)).isEqualTo("false");
    assertThat(InvokerCheck.trust(options, "invoker-guard", facts(service("True"), false)).lines())
        .isEmpty();
  }

  @Test
  void checkStillOffBeforeTheDeploy_withTrustMode_isARefusal_nothingDeployed() {
    Options options = TestOptions.of("--allow", ALICE, TRUST, "true");

    UsageError refusal =
        assertThrows(
            UsageError.class,
            () -> InvokerCheck.trust(options, "invoker-guard", facts(service("True"), false)));

    assertThat(refusal).hasMessageThat().contains("invoker IAM check");
    assertThat(refusal).hasMessageThat().contains("nothing was deployed");
  }

  @Test
  void checkOffAfterTheDeploy_withTrustMode_isARecordedFailure() {
    Options options = TestOptions.of("--allow", ALICE, TRUST, "true");

    Plan plan = InvokerCheck.trust(options, "invoker-guard", facts(service("True"), true));

    assertThat(plan.of("FAILURES+=")).hasSize(1);
    assertThat(plan.of("FAILURES+=").get(0)).contains("is off");
  }

  @Test
  void checkUnknownBeforeTheFirstDeploy_withTrustMode_deploysFalseFirst() {
    Options options = TestOptions.of("--allow", ALICE, TRUST, "true");

    Plan plan = InvokerCheck.trust(options, "invoker-guard", facts(null, false));

    assertThat(plan.of("@info ").get(0)).contains("deployed as false first");
    assertThat(plan.of("FAILURES+=")).isEmpty();
  }

  @Test
  void deployStep_carriesTrustModeOnlyBehindACheckReadOn() {
    Options options = TestOptions.of("--allow", ALICE, TRUST, "true");
    JsonObject json = new JsonObject();
    json.add("serviceAccounts", new JsonObject());
    json.addProperty("projectNumber", "123");
    json.addProperty("service", service("True"));
    Plan off = DeployPlan.plan("deploy", options, Facts.of(json));
    json.addProperty("service", service(null));
    Plan on = DeployPlan.plan("deploy", options, Facts.of(json));

    assertThat(String.join(" ", off.of("DEPLOY=")))
        .contains("TRUST_PLATFORM_VERIFIED_TOKENS=false");
    assertThat(String.join(" ", on.of("DEPLOY="))).contains("TRUST_PLATFORM_VERIFIED_TOKENS=true");
    assertThat(off.of("REDEPLOY=")).containsExactly("false");
  }

  private static String gate(Options options, Facts facts) {
    Map<String, String> vars = new LinkedHashMap<>(options.guard);
    InvokerCheck.gateTrust(options, facts, vars);
    return vars.get(Options.TRUST);
  }
}
