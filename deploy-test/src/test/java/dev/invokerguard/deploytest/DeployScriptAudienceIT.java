package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.deploytest.InvokeJar.Invocation;
import dev.invokerguard.standin.DeployedFunction;
import dev.invokerguard.standin.Gcloud;
import dev.invokerguard.standin.GoogleStandIn;
import dev.invokerguard.testing.MetadataServer;
import dev.invokerguard.testing.TestIssuer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy.sh's {@code --audience} and its handling of conditional invoker bindings with the real
 * gcloud against the stand-in, on one 2nd gen deployment shared by the checks in order: the custom
 * audience set on the Cloud Run service with the real {@code gcloud run services update} (the
 * stand-in serving gcloud's regional Cloud Run host as its HTTP proxy, no name looked up), a token
 * for it accepted by the front end and the guard, any other audience refused by Google, a rerun and
 * a dry run that change nothing; then conditional bindings reported and left alone while the
 * allowlisted member gets an unconditional grant.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DeployScriptAudienceIT {
  private static final String PROJECT = "host-project";
  private static final String REGION = "europe-west1";
  private static final String NAME = "invoker-guard";
  private static final String DEPLOYER = "deployer@host-project.iam.gserviceaccount.com";
  private static final String ALICE = "alice-api@client-one.iam.gserviceaccount.com";
  private static final String MALLORY = "mallory@evil-proj.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://api.example.internal";
  private static final String KNATIVE_SERVICE =
      "/apis/serving.knative.dev/v1/namespaces/" + PROJECT + "/services/" + NAME;

  @TempDir static Path temp;
  private OfflineGoogle offline;
  private TestIssuer issuer;
  private GoogleStandIn google;
  private Gcloud gcloud;
  private MetadataServer alice;

  @BeforeAll
  void setUp() throws Exception {
    offline =
        OfflineGoogle.start(
            temp, PROJECT, DEPLOYER, Optional.of("journey-DeployScriptAudienceIT.log"));
    issuer = offline.issuer();
    google = offline.google();
    gcloud = offline.gcloud();
    alice = issuer.startMetadataServer(ALICE);
  }

  @AfterEach
  void everyRequestStayedOnLoopback() {
    if (offline != null) {
      offline.assertOnlyKnownLoopbackRequests(REGION);
    }
  }

  @AfterAll
  void tearDown() throws Exception {
    if (alice != null) {
      alice.close();
    }
    if (offline != null) {
      offline.close();
    }
  }

  @Test
  @Order(1)
  void audience_setWithTheRealCli_itsTokenGets200_anotherAudienceIsGoogles401() throws Exception {
    Gcloud.Result result = deploy("--allow", ALICE, "--audience", AUDIENCE);
    ok(result);
    DeployedFunction function = google.function(REGION, NAME);

    // Set on the service through the regional Cloud Run host gcloud derived, as Google has it.
    assertThat(function.customAudiences()).containsExactly(AUDIENCE);
    List<GoogleStandIn.Request> replaces = replaces();
    assertThat(replaces).hasSize(1);
    assertThat(replaces.get(0).host()).startsWith(REGION + "-127.0.0.1:");
    JsonObject annotations =
        JsonParser.parseString(replaces.get(0).body())
            .getAsJsonObject()
            .getAsJsonObject("metadata")
            .getAsJsonObject("annotations");
    assertThat(annotations.get("run.googleapis.com/custom-audiences").getAsString())
        .isEqualTo("[\"" + AUDIENCE + "\"]");
    assertThat(List.of(function.environmentVariables().get("EXPECTED_AUDIENCES").split(",")))
        .containsExactlyElementsIn(function.audiences())
        .inOrder();
    assertThat(result.stdout()).contains("\n  " + AUDIENCE + "\n");

    // The real client, its token from the metadata server minted for the custom audience (the
    // function's last audience): through Google's front end and the guard.
    Invocation call = InvokeJar.call(function, temp, Map.of("GCE_METADATA_HOST", alice.host()));
    assertWithMessage("%s\n%s\n%s", call.stdout(), call.stderr(), function.instanceLogs())
        .that(call.exitCode())
        .isEqualTo(0);
    assertThat(call.stdout()).contains("200");
    // An audience not set on the service: Google's front end refuses it.
    HttpResponse<String> other =
        call(function, issuer.mint(ALICE, "https://other.example.internal"));
    assertThat(other.statusCode()).isEqualTo(401);
    assertThat(other.body()).contains("<title>401 Unauthorized</title>");
  }

  @Test
  @Order(2)
  void audience_rerun_readsTheService_andSendsNoSecondUpdate() throws Exception {
    int before = google.requests().size();

    Gcloud.Result result = deploy("--allow", ALICE, "--audience", AUDIENCE);

    ok(result);
    assertThat(result.stdout()).contains("Custom audiences already set on service " + NAME);
    assertThat(replaces()).hasSize(1);
    assertThat(
            google.requests().subList(before, google.requests().size()).stream()
                .filter(r -> r.api().equals("run") && r.path().equals(KNATIVE_SERVICE))
                .map(GoogleStandIn.Request::method)
                .toList())
        // Read before the deploy (the invoker IAM check, which trust mode waits on) and after it
        // (the check again, the audiences): no replace.
        .containsExactly("GET", "GET");
    assertThat(google.function(REGION, NAME).customAudiences()).containsExactly(AUDIENCE);
  }

  @Test
  @Order(3)
  void audience_dryRun_printsTheUpdate_andSendsNoChange() throws Exception {
    int before = google.requests().size();
    String second = "https://second.example.internal";

    Gcloud.Result result =
        deploy("--allow", ALICE, "--audience", AUDIENCE, "--audience", second, "--dry-run");

    ok(result);
    assertThat(DryRunConfigs.commands(result.stdout()))
        .contains(
            "gcloud run services update "
                + NAME
                + " --region="
                + REGION
                + " --project="
                + PROJECT
                + " --add-custom-audiences="
                + second
                + " --quiet");
    assertThat(result.stdout()).contains("[read] gcloud run services describe " + NAME);
    for (GoogleStandIn.Request r : google.requests().subList(before, google.requests().size())) {
      boolean read =
          r.method().equals("GET")
              || r.api().equals("token")
              || (r.method().equals("POST") && r.path().endsWith(":getIamPolicy"));
      assertWithMessage("a dry run sent %s", r).that(read).isTrue();
    }
    assertThat(google.function(REGION, NAME).customAudiences()).containsExactly(AUDIENCE);
  }

  @Test
  @Order(4)
  void noNameIsLookedUp_andEveryConnectIsToLoopback_straceOfTheRealCli() throws Exception {
    Assumptions.assumeTrue(
        Tools.isInstalled("strace"), "strace is not installed: the syscall check is skipped");
    Path trace = temp.resolve("strace.txt");
    Gcloud.Result result =
        gcloud.run(
            List.of(
                "strace",
                "-f",
                "-qq",
                "-e",
                "trace=connect",
                "-o",
                trace.toString(),
                "gcloud",
                "run",
                "services",
                "describe",
                NAME,
                "--region=" + REGION,
                "--project=" + PROJECT,
                "--format=json"),
            Map.of(),
            Duration.ofMinutes(2));
    ok(result);
    assertThat(result.stdout()).contains(AUDIENCE);
    List<String> inet = new ArrayList<>();
    Matcher m =
        Pattern.compile("connect\\(\\d+, \\{sa_family=AF_INET6?, [^}]*\\}")
            .matcher(Files.readString(trace));
    while (m.find()) {
      inet.add(m.group());
    }
    assertThat(inet).isNotEmpty();
    for (String connect : inet) {
      // 127.0.0.1 only: the stand-in, or the closed metadata port; never port 53 (DNS).
      assertWithMessage("%s", connect).that(connect).contains("inet_addr(\"127.0.0.1\")");
      assertWithMessage("%s", connect).that(connect).doesNotContain("htons(53)");
    }
    // No resolver socket to nscd/systemd-resolved either.
    assertThat(Files.readString(trace)).doesNotContain("nscd");
    assertThat(Files.readString(trace)).doesNotContain("resolve");
  }

  @Test
  @Order(5)
  void conditionalBindings_reportedAndLeftAlone_allowlistedMemberGetsAnUnconditionalGrant()
      throws Exception {
    DeployedFunction function = google.function(REGION, NAME);
    // Alice held only under a condition, Mallory (not allowlisted) too: set with the real CLI,
    // which writes version 3 policies for `run services add-iam-policy-binding --condition`.
    ok(invokerBinding("remove", "serviceAccount:" + ALICE));
    ok(conditionalBinding(ALICE, "until-june", "request.time < timestamp('2030-06-01T00:00:00Z')"));
    ok(
        conditionalBinding(
            MALLORY, "mallory-trial", "request.time < timestamp('2030-01-01T00:00:00Z')"));
    List<JsonElement> conditionalBefore = conditionalBindings();
    assertThat(conditionalBefore).hasSize(2);
    assertThat(function.grantsInvoker("serviceAccount:" + ALICE)).isFalse();

    Gcloud.Result result = deploy("--allow", ALICE, "--audience", AUDIENCE);

    ok(result);
    assertThat(result.stderr())
        .contains(
            "conditional binding left alone: serviceAccount:"
                + ALICE
                + " holds roles/run.invoker on "
                + NAME
                + " only under condition 'until-june'");
    assertThat(result.stderr())
        .contains(
            "conditional binding left alone: serviceAccount:"
                + MALLORY
                + " holds roles/run.invoker on "
                + NAME
                + " only under condition 'mallory-trial'");
    assertThat(result.stdout()).contains("Granting roles/run.invoker to serviceAccount:" + ALICE);
    assertThat(result.stdout()).doesNotContain("Revoking");
    // Unchanged, and Alice now granted without a condition; Mallory still only conditionally.
    assertThat(conditionalBindings()).containsExactlyElementsIn(conditionalBefore);
    assertThat(function.grantsInvoker("serviceAccount:" + ALICE)).isTrue();
    assertThat(function.grantsInvoker("serviceAccount:" + MALLORY)).isFalse();
    Invocation call = InvokeJar.call(function, temp, Map.of("GCE_METADATA_HOST", alice.host()));
    assertWithMessage("%s\n%s", call.stdout(), call.stderr()).that(call.exitCode()).isEqualTo(0);

    // What gcloud 528 asked for: deploy.sh's read (run services get-iam-policy) at version 3;
    // functions add-invoker-policy-binding reads at version 1 (no requestedPolicyVersion), sees
    // ROLE_withcond_HASH and writes version 1 back, which Google accepts as it keeps them.
    List<String> reads =
        google.requests().stream()
            .filter(r -> r.path().endsWith(":getIamPolicy"))
            .map(r -> r.query() == null ? "" : r.query())
            .toList();
    assertThat(reads).contains("alt=json&options.requestedPolicyVersion=3");
    assertThat(reads).contains("alt=json");
  }

  // --- helpers ---------------------------------------------------------------------------------

  private List<GoogleStandIn.Request> replaces() {
    return google.requests().stream()
        .filter(r -> r.method().equals("PUT") && r.path().equals(KNATIVE_SERVICE))
        .toList();
  }

  private List<JsonElement> conditionalBindings() throws Exception {
    Gcloud.Result policy =
        gcloud.gcloud(
            "run",
            "services",
            "get-iam-policy",
            NAME,
            "--region=" + REGION,
            "--project=" + PROJECT,
            "--format=json");
    ok(policy);
    List<JsonElement> out = new ArrayList<>();
    JsonObject json = JsonParser.parseString(policy.stdout()).getAsJsonObject();
    if (json.has("bindings")) {
      json.getAsJsonArray("bindings")
          .forEach(
              b -> {
                if (b.getAsJsonObject().has("condition")) {
                  out.add(b);
                }
              });
    }
    return out;
  }

  private Gcloud.Result conditionalBinding(String account, String title, String expression)
      throws Exception {
    return gcloud.gcloud(
        "run",
        "services",
        "add-iam-policy-binding",
        NAME,
        "--region=" + REGION,
        "--project=" + PROJECT,
        "--member=serviceAccount:" + account,
        "--role=roles/run.invoker",
        "--condition=expression=" + expression + ",title=" + title);
  }

  private Gcloud.Result deploy(String... args) throws Exception {
    return offline.deploy(PROJECT, REGION, NAME, Map.of(), args);
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
}
