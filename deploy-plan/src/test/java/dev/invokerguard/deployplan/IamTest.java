package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The invoker IAM plan and the custom audiences on the service, from what gcloud read. */
class IamTest {
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String BOB = "bob@client-two.iam.gserviceaccount.com";

  private static Options options(String... extra) {
    List<String> args = new java.util.ArrayList<>(List.of("--allow", ALICE, "--allow", BOB));
    args.addAll(List.of(extra));
    return TestOptions.of(args.toArray(String[]::new));
  }

  private static Plan converge(Options options, String policy) {
    return new Iam(options, JsonParser.parseString(policy), "invoker-guard-svc")
        .converge(Callers.of(options, new JsonObject()));
  }

  @Test
  void publicMembersFirst_thenOtherExtras_thenMissingGrants() {
    Plan plan =
        converge(
            options(),
            """
            {"bindings": [
              {"role": "roles/run.viewer", "members": ["user:boss@example.com"]},
              {"role": "roles/run.invoker", "members": [
                "serviceAccount:mallory@evil.iam.gserviceaccount.com", "allUsers",
                "serviceAccount:ALICE@client-one.iam.gserviceaccount.com",
                "allAuthenticatedUsers"]}]}
            """);

    List<String> members =
        TestOptions.calls(plan).stream().map(call -> call.get(1) + " " + call.get(6)).toList();
    assertThat(members)
        .containsExactly(
            "remove-invoker-policy-binding --member=allUsers",
            "remove-invoker-policy-binding --member=allAuthenticatedUsers",
            "remove-invoker-policy-binding --member=serviceAccount:mallory@evil.iam.gserviceaccount.com",
            "add-invoker-policy-binding --member=serviceAccount:" + BOB)
        .inOrder();
    assertThat(TestOptions.calls(plan).get(0))
        .containsExactly(
            "functions",
            "remove-invoker-policy-binding",
            "invoker-guard",
            "--region=europe-west1",
            "--project=host-proj",
            "--gen2",
            "--member=allUsers",
            "--quiet")
        .inOrder();
    assertThat(plan.of("@warn "))
        .containsExactly(
            "PUBLIC ACCESS: allUsers holds roles/run.invoker on invoker-guard; removing it",
            "PUBLIC ACCESS: allAuthenticatedUsers holds roles/run.invoker on invoker-guard;"
                + " removing it")
        .inOrder();
    assertThat(plan.of("@info ")).containsExactly("IAM converged: 4 change(s) attempted.");
  }

  @Test
  void converged_noChange_andDryRunSaysPlanned() {
    String policy =
        "{\"bindings\": [{\"role\": \"roles/run.invoker\", \"members\": [\"serviceAccount:"
            + ALICE
            + "\", \"serviceAccount:"
            + BOB
            + "\"]}]}";
    assertThat(TestOptions.calls(converge(options(), policy))).isEmpty();
    assertThat(converge(options(), policy).of("@info "))
        .containsExactly("IAM already matches the allowlist: no IAM changes.");
    assertThat(converge(options("--dry-run"), "{}").of("@info "))
        .containsExactly("Dry run: 2 IAM change(s) planned, none made.");
  }

  @Test
  void conditionalBinding_leftAlone_notCountedAsGranted_namedInTheSummary() {
    Plan plan =
        converge(
            options("--gen1"),
            """
            {"bindings": [
              {"role": "roles/cloudfunctions.invoker", "members": ["serviceAccount:%s"],
               "condition": {"title": "until-june", "expression": "request.time < x"}},
              {"role": "roles/cloudfunctions.invoker_withcond_abc",
               "members": ["serviceAccount:carol@c.iam.gserviceaccount.com"]}]}
            """
                .formatted(ALICE));

    assertThat(
            TestOptions.calls(plan).stream().map(call -> call.get(1) + " " + call.get(6)).toList())
        .containsExactly(
            "add-invoker-policy-binding --member=serviceAccount:" + ALICE,
            "add-invoker-policy-binding --member=serviceAccount:" + BOB);
    assertThat(TestOptions.calls(plan).get(0)).contains("--no-gen2");
    assertThat(plan.of("@warn ").get(0))
        .isEqualTo(
            "conditional binding left alone: serviceAccount:"
                + ALICE
                + " holds roles/cloudfunctions.invoker on invoker-guard only under condition"
                + " 'until-june'; it does not count as granted (deploy.sh neither removes nor"
                + " rewrites conditional bindings)");
    assertThat(plan.of("@warn ").get(1)).contains("under condition '(condition not shown)'");
    assertThat(plan.of("@info "))
        .containsExactly(
            "IAM converged: 2 change(s) attempted. Conditional bindings left alone: serviceAccount:"
                + ALICE
                + ", serviceAccount:carol@c.iam.gserviceaccount.com.");
  }

  @Test
  void grant_refusedByAnOrganizationPolicy_namesTheConstraint() {
    JsonObject action =
        JsonParser.parseString(converge(options(), "{}").of("@action ").get(0)).getAsJsonObject();

    assertThat(action.get("failure").getAsString())
        .isEqualTo("granting roles/run.invoker to serviceAccount:" + ALICE);
    JsonObject refusal = action.getAsJsonObject("refusal");
    assertThat("ERROR: ... is not in permitted customer")
        .containsMatch(refusal.get("match").getAsString());
    assertThat(refusal.get("failure").getAsString())
        .contains("constraints/iam.allowedPolicyMemberDomains");
    assertThat(refusal.get("failure").getAsString()).contains("for project host-proj");
  }

  @Test
  void policyThatIsNotAPolicy_failsClosed() {
    for (String policy : List.of("[]", "\"x\"", "{\"bindings\": {}}", "{\"bindings\": [1]}")) {
      assertThrows(
          IllegalStateException.class,
          () -> new Iam(options(), JsonParser.parseString(policy), "svc"),
          policy);
    }
  }

  @Test
  void policyRead_isTheServiceOn2ndGen_theFunctionOn1stGen() {
    assertThat(Iam.policyRead(options(), "svc"))
        .containsExactly(
            "run",
            "services",
            "get-iam-policy",
            "svc",
            "--region=europe-west1",
            "--project=host-proj",
            "--format=json")
        .inOrder();
    assertThat(Iam.policyRead(options("--gen1"), "svc"))
        .containsAtLeast("functions", "get-iam-policy", "invoker-guard", "--no-gen2");
  }

  @Test
  void customAudiences_onlyTheMissingAreAdded_noneWhenAllAreThere() {
    Options options =
        options("--audience", "https://a.example.com", "--audience", "https://b.example.com");
    String service =
        "{\"metadata\": {\"annotations\": {\"run.googleapis.com/custom-audiences\":"
            + " \"[\\\"https://a.example.com\\\"]\"}}}";

    Plan missingOne = ServiceAudiences.plan(options, "svc", Optional.of(service));
    assertThat(TestOptions.calls(missingOne).get(0))
        .contains("--add-custom-audiences=https://b.example.com");

    Plan unreadable = ServiceAudiences.plan(options, "svc", Optional.empty());
    assertThat(unreadable.of("@warn "))
        .containsExactly("could not read service svc; adding every --audience");
    assertThat(TestOptions.calls(unreadable).get(0))
        .contains("--add-custom-audiences=https://a.example.com,https://b.example.com");

    String both = service.replace("\\\"]", "\\\",\\\"https://b.example.com\\\"]");
    assertThat(ServiceAudiences.plan(options, "svc", Optional.of(both)).of("@info "))
        .containsExactly("Custom audiences already set on service svc: no update.");
    assertThat(ServiceAudiences.plan(options(), "svc", Optional.empty()).lines()).isEmpty();
  }

  @Test
  void publicMembers_areRemovedUnderEveryRole_predefinedCustomOrUnrelated() {
    Plan plan =
        converge(
            options(),
            """
            {"bindings": [
              {"role": "roles/run.servicesInvoker", "members": ["allUsers"]},
              {"role": "projects/host-proj/roles/caller", "members": ["allAuthenticatedUsers"]},
              {"role": "roles/run.viewer", "members": ["allUsers"]},
              {"role": "roles/run.invoker", "members": [
                "serviceAccount:%s", "serviceAccount:%s"]}]}
            """
                .formatted(ALICE, BOB));

    assertThat(TestOptions.calls(plan))
        .containsExactly(
            removal("roles/run.servicesInvoker", "allUsers"),
            removal("projects/host-proj/roles/caller", "allAuthenticatedUsers"),
            removal("roles/run.viewer", "allUsers"))
        .inOrder();
    assertThat(plan.of("@warn "))
        .containsExactly(
            "PUBLIC ACCESS: allUsers holds roles/run.servicesInvoker on invoker-guard; removing it",
            "PUBLIC ACCESS: allAuthenticatedUsers holds projects/host-proj/roles/caller on"
                + " invoker-guard; removing it",
            "PUBLIC ACCESS: allUsers holds roles/run.viewer on invoker-guard; removing it")
        .inOrder();
  }

  @Test
  void everyPredefinedRoleThatInvokes_keepsOnlyAllowlistedMembers_otherRolesUntouched() {
    Plan plan =
        converge(
            options(),
            """
            {"bindings": [
              {"role": "roles/run.admin", "members": ["user:boss@example.com"]},
              {"role": "roles/run.servicesInvoker", "members": [
                "serviceAccount:%s", "serviceAccount:mallory@evil.iam.gserviceaccount.com"]},
              {"role": "roles/run.viewer", "members": ["user:auditor@example.com"]},
              {"role": "roles/run.invoker", "members": [
                "serviceAccount:%s", "serviceAccount:%s"]}]}
            """
                .formatted(ALICE, ALICE, BOB));

    assertThat(TestOptions.calls(plan))
        .containsExactly(
            removal("roles/run.admin", "user:boss@example.com"),
            removal(
                "roles/run.servicesInvoker", "serviceAccount:mallory@evil.iam.gserviceaccount.com"))
        .inOrder();
    assertThat(plan.of("@warn ")).isEmpty();
    assertThat(plan.of("@info ")).containsExactly("IAM converged: 2 change(s) attempted.");
  }

  @Test
  void customRoles_andUnconfirmedPredefinedRoles_areReported_notChanged() {
    Plan plan =
        converge(
            options(),
            """
            {"bindings": [
              {"role": "projects/host-proj/roles/caller", "members": ["user:eve@example.com"]},
              {"role": "organizations/42/roles/caller", "members": ["group:ops@example.com"]},
              {"role": "roles/run.developer", "members": ["user:dev@example.com"]},
              {"role": "roles/run.invoker", "members": [
                "serviceAccount:%s", "serviceAccount:%s"]}]}
            """
                .formatted(ALICE, BOB));

    assertThat(TestOptions.calls(plan)).isEmpty();
    assertThat(plan.of("@warn ")).hasSize(3);
    assertThat(plan.of("@warn ").get(0))
        .isEqualTo(
            "user:eve@example.com holds projects/host-proj/roles/caller on invoker-guard, which"
                + " may carry the invoke permission (run.routes.invoke): left alone; check it"
                + " (gcloud iam roles describe projects/host-proj/roles/caller) and remove the"
                + " binding if it does");
    assertThat(plan.of("@warn ").get(2)).contains("roles/run.developer");
    assertThat(plan.of("@info "))
        .containsExactly("IAM already matches the allowlist: no IAM changes.");
  }

  @Test
  void gen1_theFunctionsAdminRoleInvokes_revokedOnTheFunction() {
    Plan plan =
        converge(
            options("--gen1"),
            """
            {"bindings": [
              {"role": "roles/cloudfunctions.admin", "members": ["user:boss@example.com"]},
              {"role": "roles/cloudfunctions.viewer", "members": ["user:auditor@example.com"]},
              {"role": "roles/cloudfunctions.invoker", "members": [
                "serviceAccount:%s", "serviceAccount:%s"]}]}
            """
                .formatted(ALICE, BOB));

    assertThat(TestOptions.calls(plan))
        .containsExactly(
            List.of(
                "functions",
                "remove-iam-policy-binding",
                "invoker-guard",
                "--region=europe-west1",
                "--project=host-proj",
                "--no-gen2",
                "--member=user:boss@example.com",
                "--role=roles/cloudfunctions.admin",
                "--quiet"));
  }

  @Test
  void conditionalBindingOfAnInvokingRole_leftAlone_namedInTheSummary() {
    Plan plan =
        converge(
            options(),
            """
            {"bindings": [
              {"role": "roles/run.admin", "members": ["user:boss@example.com"],
               "condition": {"title": "break-glass", "expression": "request.time < x"}},
              {"role": "roles/run.invoker", "members": [
                "serviceAccount:%s", "serviceAccount:%s"]}]}
            """
                .formatted(ALICE, BOB));

    assertThat(TestOptions.calls(plan)).isEmpty();
    assertThat(plan.of("@warn ").get(0))
        .startsWith("conditional binding left alone: user:boss@example.com holds roles/run.admin");
    assertThat(plan.of("@info "))
        .containsExactly(
            "IAM already matches the allowlist: no IAM changes. Conditional bindings left alone:"
                + " user:boss@example.com.");
  }

  @Test
  void theInvokeRoles_areOneListPerGeneration_eachRoleItsOwnInvokerOrAdmin() {
    assertThat(Iam.INVOKE_ROLES.get(2)).contains("roles/run.invoker");
    assertThat(Iam.INVOKE_ROLES.get(1)).contains("roles/cloudfunctions.invoker");
    assertThat(Iam.INVOKE_ROLES.get(1)).doesNotContain("roles/run.invoker");
    assertThat(Iam.mayCarryInvoke("projects/p/roles/x")).isTrue();
    assertThat(Iam.mayCarryInvoke("organizations/1/roles/x")).isTrue();
    assertThat(Iam.mayCarryInvoke("roles/run.viewer")).isFalse();
  }

  private static List<String> removal(String role, String member) {
    return List.of(
        "run",
        "services",
        "remove-iam-policy-binding",
        "invoker-guard-svc",
        "--region=europe-west1",
        "--project=host-proj",
        "--member=" + member,
        "--role=" + role,
        "--quiet");
  }
}
