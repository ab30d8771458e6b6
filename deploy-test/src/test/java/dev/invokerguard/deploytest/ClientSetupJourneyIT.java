package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.deploytest.InvokeJar.Invocation;
import dev.invokerguard.standin.DeployedFunction;
import dev.invokerguard.standin.Gcloud;
import dev.invokerguard.standin.GoogleStandIn;
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
import org.junit.jupiter.api.io.TempDir;

/**
 * The on-premises path end to end: the client team runs client-setup.sh with a key file, the real
 * {@code client/target/invoke.jar} calls with {@code GOOGLE_APPLICATION_CREDENTIALS} set to that
 * key (its token from the stand-in's token endpoint), the host team allowlists the account with
 * deploy.sh and the argument client-setup.sh printed. Real gcloud, real invoker.
 */
class ClientSetupJourneyIT {
  private static final String HOST = "host-project";
  private static final String CLIENT = "client-project";
  private static final String REGION = "europe-west1";
  private static final String FUNCTION = "invoker-guard";
  private static final String ADMIN = "admin@host-project.iam.gserviceaccount.com";
  private static final String OTHER = "other@elsewhere.iam.gserviceaccount.com";
  private static final String CALLER = "onprem-caller@client-project.iam.gserviceaccount.com";

  @TempDir Path temp;
  private OfflineGoogle offline;
  private TestIssuer issuer;
  private GoogleStandIn google;
  private Gcloud gcloud;

  @BeforeEach
  void setUp() throws Exception {
    offline = OfflineGoogle.start(temp, HOST, ADMIN, Optional.empty(), CLIENT);
    issuer = offline.issuer();
    google = offline.google();
    gcloud = offline.gcloud();
  }

  @AfterEach
  void tearDown() throws IOException {
    if (offline != null) {
      offline.close();
    }
  }

  @Test
  void onPremises_keyFromClientSetup_refusedThenAllowed_andDeadOnceDeleted() throws Exception {
    // The host team has deployed with another caller allowlisted.
    deploy("--allow", OTHER);
    DeployedFunction function = google.function(REGION, FUNCTION);
    String url = function.audiences().get(function.audiences().size() - 1);

    // The client team onboards: account and key, with the function's URL.
    Path key = temp.resolve("caller-key.json");
    ClientSetup script = new ClientSetup(gcloud);
    Gcloud.Result setup =
        script.run(
            temp,
            "--project",
            CLIENT,
            "--name",
            "onprem-caller",
            "--key-file",
            key.toString(),
            "--audience",
            url);
    assertWithMessage("%s", setup).that(setup.exitCode()).isEqualTo(0);
    String allow = ClientSetup.allowArgument(setup);
    assertThat(allow).isEqualTo(CALLER + "=" + TestIssuer.uniqueIdOf(CALLER));

    // Not yet granted: Google's front end refuses it with its HTML page.
    int forwarded = function.forwardedCount();
    Invocation google403 = invoke(function, key);
    assertWithMessage("%s", google403).that(google403.exitCode()).isEqualTo(1);
    assertThat(google403.stdout()).contains("<title>403 Forbidden</title>");
    assertThat(function.forwardedCount()).isEqualTo(forwarded);

    // Granted the invoker role but not allowlisted: the guard's JSON 403.
    Gcloud.Result grant =
        gcloud.gcloud(
            "functions",
            "add-invoker-policy-binding",
            FUNCTION,
            "--region=" + REGION,
            "--project=" + HOST,
            "--gen2",
            "--member=serviceAccount:" + CALLER,
            "--quiet");
    assertWithMessage("%s", grant).that(grant.exitCode()).isEqualTo(0);
    Invocation guard403 = invoke(function, key);
    assertWithMessage("%s", guard403).that(guard403.exitCode()).isEqualTo(1);
    assertThat(guard403.stdout()).contains("403");
    assertThat(guard403.stdout()).doesNotContain("<html>");
    assertThat(guard403.stdout()).contains("{");
    assertThat(function.forwardedCount()).isEqualTo(forwarded + 1);

    // The host team allowlists it with what client-setup.sh printed: 200.
    // Pinned: ALLOWED_INVOKERS holds the unique ID (the token's sub), the grant names the email.
    deploy("--allow", OTHER, "--allow", allow);
    assertThat(function.environmentVariables().get("ALLOWED_INVOKERS"))
        .isEqualTo(OTHER + "," + TestIssuer.uniqueIdOf(CALLER));
    assertThat(function.grantsInvoker("serviceAccount:" + CALLER)).isTrue();
    Invocation ok = invoke(function, key);
    assertWithMessage("%s\n%s", ok, function.instanceLogs()).that(ok.exitCode()).isEqualTo(0);
    assertThat(ok.stdout()).contains("200");
    assertThat(ok.stdout()).contains(CALLER);

    // The key deleted, the same file gets no token any more.
    Gcloud.Result deleted =
        script.run(temp, "--project", CLIENT, "--name", "onprem-caller", "--delete-keys");
    assertWithMessage("%s", deleted).that(deleted.exitCode()).isEqualTo(0);
    Invocation dead = invoke(function, key);
    assertWithMessage("%s", dead).that(dead.exitCode()).isEqualTo(3);

    google.assertNoUnexpectedRequests();
  }

  private void deploy(String... allow) throws Exception {
    List<String> command = new ArrayList<>();
    command.add("bash");
    command.add(Tools.repositoryRoot().resolve("deploy.sh").toString());
    command.addAll(List.of("--project", HOST, "--region", REGION, "--name", FUNCTION));
    command.addAll(List.of(allow));
    Gcloud.Result result = gcloud.run(command, Map.of(), Duration.ofMinutes(4));
    assertWithMessage("%s\n--- stand-in requests\n%s", result, google.requests())
        .that(result.exitCode())
        .isEqualTo(0);
  }

  /** {@code GOOGLE_APPLICATION_CREDENTIALS=KEY java -jar client/target/invoke.jar FRONT_END}. */
  private Invocation invoke(DeployedFunction function, Path key) throws Exception {
    return InvokeJar.call(
        function,
        temp,
        Map.of(
            "GOOGLE_APPLICATION_CREDENTIALS",
            key.toString(),
            // Nothing may fall back to a real metadata server.
            "GCE_METADATA_HOST",
            "127.0.0.1:9"));
  }
}
