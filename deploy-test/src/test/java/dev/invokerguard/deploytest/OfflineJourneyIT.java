package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.deploytest.InvokeJar.Invocation;
import dev.invokerguard.standin.DeployedFunction;
import dev.invokerguard.standin.Gcloud;
import dev.invokerguard.standin.GoogleStandIn;
import dev.invokerguard.testing.MetadataServer;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tutorial as one test: the real deploy.sh drives the real gcloud CLI against the local
 * stand-in of Google's APIs, which runs the deployed jar in the real Functions Framework invoker
 * behind a Google-like front end; clients call it with the real {@code client/target/invoke.jar},
 * their tokens from the metadata-server stand-in.
 */
class OfflineJourneyIT {
  private static final String PROJECT = "host-project";
  private static final String REGION = "europe-west1";
  private static final String NAME = "invoker-guard";
  private static final String DEPLOYER = "deployer@host-project.iam.gserviceaccount.com";
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String BOB = "bob@client-two.iam.gserviceaccount.com";
  private static final Duration DEPLOY_TIMEOUT = Duration.ofMinutes(4);

  @TempDir Path temp;
  private OfflineGoogle offline;
  private TestIssuer issuer;
  private GoogleStandIn google;
  private MetadataServer alice;
  private MetadataServer bob;

  @BeforeEach
  void setUp(TestInfo test) throws Exception {
    String log = "journey-" + test.getTestMethod().orElseThrow().getName() + ".log";
    offline = OfflineGoogle.start(temp, PROJECT, DEPLOYER, Optional.of(log));
    issuer = offline.issuer();
    google = offline.google();
    alice = issuer.startMetadataServer(ALICE);
    bob = issuer.startMetadataServer(BOB);
  }

  @AfterEach
  void tearDown() throws IOException {
    if (offline != null) {
      offline.close();
    }
  }

  @Test
  void secondGeneration() throws Exception {
    journey(false);
  }

  @Test
  void firstGeneration() throws Exception {
    journey(true);
  }

  /**
   * What the recording fake could only assert as arguments, shown with the real CLI: a dry run
   * changes nothing at Google, and a public grant made by hand is removed loudly and the front end
   * then refuses a call without a token.
   */
  @Test
  void dryRunChangesNothing_andPublicAccessIsRemoved() throws Exception {
    deploy(false, "--allow", ALICE);
    DeployedFunction function = google.function(REGION, NAME);
    int requestsBefore = google.requests().size();
    Gcloud.Result dryRun = deploy(false, "--allow", BOB, "--dry-run");
    assertThat(DryRunConfigs.commands(dryRun.stdout()).get(0))
        .startsWith("gcloud functions deploy");
    assertThat(
            google.requests().subList(requestsBefore, google.requests().size()).stream()
                .filter(r -> !r.method().equals("GET") && !r.api().equals("token"))
                .map(Object::toString)
                .toList())
        .isEmpty();
    assertThat(function.grantsInvoker("serviceAccount:" + BOB)).isFalse();

    Gcloud.Result open =
        offline
            .gcloud()
            .gcloud(
                "functions",
                "add-invoker-policy-binding",
                NAME,
                "--region=" + REGION,
                "--project=" + PROJECT,
                "--gen2",
                "--member=allUsers",
                "--quiet");
    assertWithMessage("%s", open).that(open.exitCode()).isEqualTo(0);
    // Public: the front end lets a call without a token through, and only the guard refuses it.
    assertThat(anonymousStatus(function)).isEqualTo(401);
    assertThat(function.frontEndLog().get(function.frontEndLog().size() - 1))
        .contains("forwarded (allUsers)");

    Gcloud.Result closed = deploy(false, "--allow", ALICE);
    // On 2nd gen the CLI's own deploy with --no-allow-unauthenticated drops allUsers from the
    // service's policy before deploy.sh reads it after the deploy (the recording fake could not
    // show this): deploy.sh reads the policy before the deploy too, so the operator is told.
    assertThat(closed.stderr())
        .contains("PUBLIC ACCESS: allUsers held roles/run.invoker on " + NAME + " before this run");
    assertThat(function.grantsInvoker("allUsers")).isFalse();
    int forwarded = function.forwardedCount();
    assertThat(anonymousStatus(function)).isEqualTo(401);
    assertThat(function.forwardedCount()).isEqualTo(forwarded);
    google.assertNoUnexpectedRequests();
  }

  private static int anonymousStatus(DeployedFunction function) throws Exception {
    java.net.http.HttpResponse<String> response =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(function.frontEnd()).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    return response.statusCode();
  }

  private void journey(boolean gen1) throws Exception {
    String genFlag = gen1 ? "--no-gen2" : "--gen2";

    // 1. The host team deploys with Alice allowlisted.
    Gcloud.Result first = deploy(gen1, "--allow", ALICE);
    DeployedFunction function = google.function(REGION, NAME);
    assertThat(function.generation()).isEqualTo(gen1 ? 1 : 2);
    assertThat(function.environmentVariables()).containsEntry("ALLOWED_INVOKERS", ALICE);
    assertThat(List.of(function.environmentVariables().get("EXPECTED_AUDIENCES").split(",")))
        .containsExactlyElementsIn(function.audiences());
    assertThat(function.grantsInvoker("serviceAccount:" + ALICE)).isTrue();
    assertWithMessage("%s", first).that(first.stdout()).contains("Granting");
    assertThat(function.environmentVariables())
        .containsEntry("FUNCTION_GENERATION", gen1 ? "gen1" : "gen2");
    assertThat(function.environmentVariables()).containsEntry("GOOGLE_CLOUD_PROJECT", PROJECT);

    // 1b. The host team sets a variable of its own by hand, the way gcloud offers. gcloud 528
    // merges --update-env-vars on the client (it reads the function, sends the whole map with an
    // update mask naming the variables field), for either generation; deploy.sh's later runs must
    // keep it (steps 5 to 7 below run deploy.sh three more times).
    Gcloud.Result handSet =
        offline
            .gcloud()
            .gcloud(
                "functions",
                "deploy",
                NAME,
                "--region=" + REGION,
                "--project=" + PROJECT,
                genFlag,
                "--trigger-http",
                "--no-allow-unauthenticated",
                "--runtime=java21",
                "--entry-point=dev.invokerguard.function.ProtectedFunction",
                "--source=" + Tools.repositoryRoot().resolve("function/target/deploy"),
                "--update-env-vars=TEAM_SETTING=kept",
                "--quiet");
    assertWithMessage("%s", handSet).that(handSet.exitCode()).isEqualTo(0);
    assertThat(function.environmentVariables()).containsEntry("TEAM_SETTING", "kept");
    assertThat(function.environmentVariables()).containsEntry("ALLOWED_INVOKERS", ALICE);

    // 2. Bob holds no invoker role: Google's front end refuses him; the function never sees it.
    int forwarded = function.forwardedCount();
    Invocation refused = invoke(function, bob);
    assertWithMessage("%s", refused).that(refused.exitCode()).isEqualTo(1);
    assertThat(refused.stdout()).contains("403");
    assertThat(refused.stdout()).contains("<title>403 Forbidden</title>");
    assertThat(function.forwardedCount()).isEqualTo(forwarded);

    // 3. Alice, her token from the metadata server: through the front end and the guard.
    Invocation ok = invoke(function, alice);
    assertWithMessage("%s\n%s", ok, function.instanceLogs()).that(ok.exitCode()).isEqualTo(0);
    assertThat(ok.stdout()).contains("200");

    // 4. Someone grants Bob the invoker role by hand: Google lets him through, the guard does not.
    Gcloud.Result grant =
        offline
            .gcloud()
            .gcloud(
                "functions",
                "add-invoker-policy-binding",
                NAME,
                "--region=" + REGION,
                "--project=" + PROJECT,
                genFlag,
                "--member=serviceAccount:" + BOB,
                "--quiet");
    assertWithMessage("%s", grant).that(grant.exitCode()).isEqualTo(0);
    forwarded = function.forwardedCount();
    Invocation guarded = invoke(function, bob);
    assertWithMessage("%s", guarded).that(guarded.exitCode()).isEqualTo(1);
    assertThat(guarded.stdout()).contains("403");
    assertThat(guarded.stdout()).doesNotContain("<html>");
    assertThat(guarded.stdout()).contains("{");
    assertThat(function.forwardedCount()).isEqualTo(forwarded + 1);

    // 5. The next deploy.sh run converges IAM: Bob's hand-made grant is revoked.
    Gcloud.Result revoke = deploy(gen1, "--allow", ALICE);
    assertThat(revoke.stdout())
        .contains("Revoking " + function.invokerRole() + " from serviceAccount:" + BOB);
    assertThat(function.grantsInvoker("serviceAccount:" + BOB)).isFalse();
    Invocation refusedAgain = invoke(function, bob);
    assertThat(refusedAgain.stdout()).contains("<title>403 Forbidden</title>");

    // 6. Bob is allowlisted: granted and accepted by the guard.
    deploy(gen1, "--allow", ALICE, "--allow", BOB);
    assertThat(function.environmentVariables().get("ALLOWED_INVOKERS"))
        .isEqualTo(ALICE + "," + BOB);
    Invocation bobOk = invoke(function, bob);
    assertWithMessage("%s\n%s", bobOk, function.instanceLogs()).that(bobOk.exitCode()).isEqualTo(0);

    // 7. An unchanged rerun changes no invoker membership.
    int revisions = function.revisions();
    Gcloud.Result again = deploy(gen1, "--allow", ALICE, "--allow", BOB);
    assertThat(again.stdout()).contains("IAM already matches the allowlist: no IAM changes.");
    assertThat(function.grantsInvoker("serviceAccount:" + ALICE)).isTrue();
    assertThat(function.grantsInvoker("serviceAccount:" + BOB)).isTrue();
    // The hand-set variable survived every deploy.sh run since it was set.
    assertThat(function.environmentVariables()).containsEntry("TEAM_SETTING", "kept");
    // The CLI deploys again even when nothing changed (a new upload and a new revision).
    assertThat(function.revisions()).isEqualTo(revisions + 1);
    assertThat(invoke(function, alice).exitCode()).isEqualTo(0);

    google.assertNoUnexpectedRequests();
  }

  private Gcloud.Result deploy(boolean gen1, String... allow) throws Exception {
    List<String> args = new ArrayList<>(List.of(allow));
    if (gen1) {
      args.add("--gen1");
    }
    Gcloud.Result result =
        offline.deploy(PROJECT, REGION, NAME, Map.of(), args.toArray(String[]::new));
    offline.ok(result);
    offline.assertOnlyKnownLoopbackRequests(REGION);
    return result;
  }

  /** {@code java -jar client/target/invoke.jar FRONT_END --audience URL} as {@code as}. */
  private Invocation invoke(DeployedFunction function, MetadataServer as) throws Exception {
    return InvokeJar.call(function, temp, Map.of("GCE_METADATA_HOST", as.host()));
  }
}
