package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.standin.DeployedFunction;
import dev.invokerguard.standin.Gcloud;
import dev.invokerguard.standin.GoogleStandIn;
import dev.invokerguard.testing.TestIssuer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
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
 * deploy.sh's day-100 behaviour (issue 13) with the real gcloud against the stand-in, on one
 * stand-in and one 2nd gen deployment shared by the checks in order (each deploy starts the real
 * invoker, so they are not repeated): unique IDs read with the real CLI and pinned, the
 * deterministic run.app URL accepted end to end, the smoke test waiting out an IAM propagation
 * delay the stand-in imposes, and giving up with exit 1 when it never ends, convergence going on
 * past an organization-policy refusal, and a team's own function deployed from a jar with its own
 * entry point. The hand-set variable surviving deploy.sh runs is in {@link OfflineJourneyIT}, for
 * both generations.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DeployScriptJourneyIT {
  private static final String PROJECT = "host-project";
  private static final String REGION = "europe-west1";
  private static final String NAME = "invoker-guard";
  private static final String DEPLOYER = "deployer@host-project.iam.gserviceaccount.com";
  private static final String ALICE = "alice-api@client-one.iam.gserviceaccount.com";
  private static final String BOB = "bob-api@client-two.iam.gserviceaccount.com";
  private static final String MALLORY = "mallory@evil-proj.iam.gserviceaccount.com";
  private static final String ALICE_PINNED = ALICE + "=" + TestIssuer.uniqueIdOf(ALICE);
  private static final String BOB_PINNED = BOB + "=" + TestIssuer.uniqueIdOf(BOB);

  @TempDir static Path temp;
  private OfflineGoogle offline;
  private TestIssuer issuer;
  private GoogleStandIn google;
  private Gcloud gcloud;

  @BeforeAll
  void setUp() throws Exception {
    offline =
        OfflineGoogle.start(
            temp,
            PROJECT,
            DEPLOYER,
            Optional.of("journey-DeployScriptJourneyIT.log"),
            "client-one",
            "client-two");
    Tools.requireInstalled("curl");
    issuer = offline.issuer();
    google = offline.google();
    gcloud = offline.gcloud();
    // The client teams' accounts, made with the real CLI; the deployer may impersonate Alice
    // (for the smoke test), as the host team would be allowed to with a test account.
    ok(gcloud.gcloud("iam", "service-accounts", "create", "alice-api", "--project=client-one"));
    ok(gcloud.gcloud("iam", "service-accounts", "create", "bob-api", "--project=client-two"));
    ok(
        gcloud.gcloud(
            "iam",
            "service-accounts",
            "add-iam-policy-binding",
            ALICE,
            "--project=client-one",
            "--member=serviceAccount:" + DEPLOYER,
            "--role=roles/iam.serviceAccountTokenCreator"));
  }

  @AfterEach
  void noUnexpectedRequests() {
    if (google != null) {
      google.propagationDelay(Duration.ZERO);
      google.restrictPolicyMembers(member -> true);
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
  void pinIds_readWithTheRealCli_andTheDeterministicUrlIsAcceptedEndToEnd() throws Exception {
    Gcloud.Result result = deploy(Map.of(), "--allow", ALICE, "--allow", BOB, "--pin-ids");
    ok(result);
    DeployedFunction function = google.function(REGION, NAME);
    assertThat(function.environmentVariables())
        .containsEntry(
            "ALLOWED_INVOKERS", TestIssuer.uniqueIdOf(ALICE) + "," + TestIssuer.uniqueIdOf(BOB));
    assertThat(result.stdout())
        .contains(ALICE + " pinned to unique ID " + TestIssuer.uniqueIdOf(ALICE));
    assertThat(function.grantsInvoker("serviceAccount:" + ALICE)).isTrue();

    // Every audience Google accepts is expected, and printed.
    String deterministic = function.deterministicRunUrl();
    assertThat(deterministic).isEqualTo("https://invoker-guard-123456789012.europe-west1.run.app");
    assertThat(List.of(function.environmentVariables().get("EXPECTED_AUDIENCES").split(",")))
        .containsExactlyElementsIn(function.audiences())
        .inOrder();
    for (String audience : function.audiences()) {
      assertThat(result.stdout()).contains("\n  " + audience + "\n");
    }
    // A token for the deterministic URL passes Google's front end and then the guard.
    HttpResponse<String> viaDeterministic = call(function, issuer.mint(ALICE, deterministic));
    assertWithMessage("%s\n%s", viaDeterministic.body(), function.instanceLogs())
        .that(viaDeterministic.statusCode())
        .isEqualTo(200);
  }

  @Test
  @Order(2)
  void smokeTest_waitsOutIamPropagation_printingEachAttempt_thenPasses() throws Exception {
    DeployedFunction function = google.function(REGION, NAME);
    ok(invokerBinding("remove", "serviceAccount:" + ALICE));
    // The front end sees IAM as it was 10 s ago: Alice's new grant is not seen at first.
    google.propagationDelay(Duration.ofSeconds(10));

    Gcloud.Result result =
        deploy(
            Map.of("INVOKER_GUARD_SMOKE_TEST_URL_OVERRIDE", function.frontEnd().toString()),
            "--allow",
            ALICE_PINNED,
            "--allow",
            BOB_PINNED,
            "--smoke-test",
            ALICE,
            "--smoke-test-timeout",
            "120");

    ok(result);
    assertThat(result.stdout()).contains("Granting roles/run.invoker to serviceAccount:" + ALICE);
    assertThat(result.stdout()).contains("attempt 1: without a token: 401 from Google (HTML");
    assertThat(result.stdout()).contains("with " + ALICE + "'s token: 403 from Google (HTML");
    assertThat(result.stdout()).contains("Smoke test passed");
    // What the guard saw, per call: the stand-in's default front end strips the judged
    // X-Serverless-Authorization, so the copy in Authorization decided; Authorization alone
    // arrived intact.
    assertThat(result.stdout())
        .contains(
            "with "
                + ALICE
                + "'s token: 200 (guard: token from Authorization, intact;"
                + " X-Serverless-Authorization stripped) (both headers)");
    assertThat(result.stdout())
        .contains(
            "in Authorization alone: 200 (guard: token from Authorization, intact;"
                + " X-Serverless-Authorization absent)");
    assertThat(result.stdout())
        .contains(
            "Clients: send the token in both headers (the default of invoke and"
                + " IdTokenAuthenticator); here a token in Authorization alone arrived intact too.");
    assertThat(
            google.requests().stream()
                .filter(r -> r.api().equals("iamcredentials"))
                .map(r -> r.path().substring(r.path().lastIndexOf(':') + 1))
                .distinct()
                .toList())
        .containsExactly("generateAccessToken", "generateIdToken");
  }

  @Test
  @Order(3)
  void smokeTest_neverPassing_givesUpAfterItsTimeout_exit1() throws Exception {
    DeployedFunction function = google.function(REGION, NAME);
    ok(invokerBinding("remove", "serviceAccount:" + ALICE));
    google.propagationDelay(Duration.ofHours(1));

    Gcloud.Result result =
        deploy(
            Map.of("INVOKER_GUARD_SMOKE_TEST_URL_OVERRIDE", function.frontEnd().toString()),
            "--allow",
            ALICE_PINNED,
            "--allow",
            BOB_PINNED,
            "--smoke-test",
            ALICE,
            "--smoke-test-timeout",
            "3");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(1);
    assertThat(result.stdout()).contains("attempt 1:");
    assertThat(result.stderr()).contains("smoke test: no pass within 3 s");
    assertThat(result.stderr()).contains("403 from Google (HTML");
  }

  @Test
  @Order(4)
  void converge_publicFirst_goesOnPastAnOrgPolicyRefusal_namesThePolicy_exit1() throws Exception {
    DeployedFunction function = google.function(REGION, NAME);
    ok(invokerBinding("remove", "serviceAccount:" + BOB));
    ok(invokerBinding("remove", "serviceAccount:" + ALICE));
    ok(invokerBinding("add", "allUsers"));
    ok(invokerBinding("add", "serviceAccount:" + MALLORY));
    // Domain-restricted sharing: client-two's accounts may not be granted anything here.
    google.restrictPolicyMembers(member -> !member.endsWith("@client-two.iam.gserviceaccount.com"));

    Gcloud.Result result = deploy(Map.of(), "--allow", BOB_PINNED, "--allow", ALICE_PINNED);

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(1);
    // On 2nd gen gcloud's own deploy drops allUsers: the read before the deploy tells the operator.
    assertThat(result.stderr()).contains("PUBLIC ACCESS: allUsers held roles/run.invoker");
    assertThat(function.grantsInvoker("allUsers")).isFalse();
    assertThat(function.grantsInvoker("serviceAccount:" + MALLORY)).isFalse();
    // Bob's grant refused, Alice's (after it) made all the same.
    assertThat(function.grantsInvoker("serviceAccount:" + BOB)).isFalse();
    assertThat(function.grantsInvoker("serviceAccount:" + ALICE)).isTrue();
    assertThat(result.stderr()).contains("1 failure(s)");
    assertThat(result.stderr()).contains("constraints/iam.allowedPolicyMemberDomains");
    assertThat(result.stderr()).contains("ask your organization policy administrator");
    assertThat(result.stderr()).contains("do not belong to a permitted customer");
  }

  @Test
  @Order(5)
  void ownFunction_fromAJar_withItsEntryPoint_oneCommand() throws Exception {
    Path jar = teamJar();
    Gcloud.Result result =
        deploy(
            Map.of(),
            "--name",
            "team-api",
            "--entry-point",
            "dev.invokerguard.function.ExampleFunction",
            "--source",
            jar.toString(),
            "--allow",
            ALICE_PINNED);
    ok(result);
    DeployedFunction team = google.function(REGION, "team-api");
    assertThat(team.environmentVariables())
        .containsEntry("ALLOWED_INVOKERS", TestIssuer.uniqueIdOf(ALICE));

    HttpResponse<String> hello = call(team, issuer.mint(ALICE, team.runUrl()));
    assertWithMessage("%s\n%s", hello.body(), team.instanceLogs())
        .that(hello.statusCode())
        .isEqualTo(200);
    assertThat(hello.body()).isEqualTo("Hello, " + ALICE + "\n");
    // Bob holds no invoker role on the team's function: Google's HTML 403.
    HttpResponse<String> bob = call(team, issuer.mint(BOB, team.runUrl()));
    assertThat(bob.statusCode()).isEqualTo(403);
    assertThat(bob.body()).contains("<title>403 Forbidden</title>");
  }

  // --- helpers ---------------------------------------------------------------------------------

  private Gcloud.Result deploy(Map<String, String> env, String... args) throws Exception {
    return offline.deploy(PROJECT, REGION, NAME, env, args);
  }

  private Gcloud.Result invokerBinding(String verb, String member) throws Exception {
    return offline.invokerBinding(PROJECT, REGION, NAME, verb, member);
  }

  private void ok(Gcloud.Result result) {
    offline.ok(result);
  }

  private HttpResponse<String> call(DeployedFunction function, String token) throws Exception {
    return offline.call(function, token);
  }

  /**
   * A team's own deployable jar, as docs/FUNCTION.md has it built: the guard's libraries (here
   * taken from the sample's self-contained jar) and the team's class ({@code ExampleFunction},
   * compiled by the function module's tests).
   */
  private static Path teamJar() throws Exception {
    Path root = Tools.repositoryRoot();
    Path sample = root.resolve("function/target/deploy/function.jar");
    Path classFile =
        root.resolve(
            "function/target/test-classes/dev/invokerguard/function/ExampleFunction.class");
    assertWithMessage("%s and %s: build with ./mvnw -pl deploy-test -am verify", sample, classFile)
        .that(Files.isRegularFile(sample) && Files.isRegularFile(classFile))
        .isTrue();
    Path jar = temp.resolve("team-api.jar");
    try (JarFile in = new JarFile(sample.toFile());
        OutputStream file = Files.newOutputStream(jar);
        JarOutputStream out = new JarOutputStream(file)) {
      for (Enumeration<JarEntry> entries = in.entries(); entries.hasMoreElements(); ) {
        JarEntry entry = entries.nextElement();
        out.putNextEntry(new JarEntry(entry.getName()));
        try (InputStream data = in.getInputStream(entry)) {
          data.transferTo(out);
        }
        out.closeEntry();
      }
      out.putNextEntry(new JarEntry("dev/invokerguard/function/ExampleFunction.class"));
      Files.copy(classFile, out);
      out.closeEntry();
    }
    return jar;
  }
}
