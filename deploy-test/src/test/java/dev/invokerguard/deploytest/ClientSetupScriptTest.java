package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.standin.Gcloud;
import dev.invokerguard.standin.GoogleStandIn;
import dev.invokerguard.standin.IamServiceAccounts;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The real client-setup.sh with the real gcloud CLI against the local stand-in of Google's IAM and
 * GKE APIs: what it creates, grants, writes and deletes, and what it leaves alone.
 */
class ClientSetupScriptTest {
  private static final String HOST = "host-project";
  private static final String CLIENT = "client-project";
  private static final String ADMIN = "admin@client-project.iam.gserviceaccount.com";
  private static final String NAME = "api-caller";
  private static final String EMAIL = NAME + "@" + CLIENT + ".iam.gserviceaccount.com";
  private static final String WI_ROLE = "roles/iam.workloadIdentityUser";
  private static final String WI_MEMBER =
      "serviceAccount:" + CLIENT + ".svc.id.goog[payments/caller]";
  private static final String URL =
      "https://europe-west1-host-project.cloudfunctions.net/invoker-guard";

  @TempDir Path temp;
  private OfflineGoogle offline;
  private TestIssuer issuer;
  private GoogleStandIn google;
  private ClientSetup script;

  @BeforeEach
  void setUp() throws Exception {
    offline = OfflineGoogle.start(temp, HOST, ADMIN, Optional.empty(), CLIENT);
    issuer = offline.issuer();
    google = offline.google();
    script = new ClientSetup(offline.gcloud());
  }

  @AfterEach
  void tearDown() throws IOException {
    if (offline != null) {
      offline.close();
    }
  }

  @Test
  void createsTheAccount_andPrintsWhatTheHostTeamNeeds_idempotently() throws Exception {
    Gcloud.Result first = ok(script.run(temp, "--project", CLIENT, "--name", NAME));

    JsonObject account = google.iam().serviceAccount(EMAIL).orElseThrow();
    assertThat(account.get("displayName").getAsString()).isEqualTo("invoker-guard client");
    String uniqueId = TestIssuer.uniqueIdOf(EMAIL);
    assertThat(ClientSetup.uniqueId(first)).isEqualTo(uniqueId);
    assertThat(first.stdout()).contains("Service account: " + EMAIL);
    assertThat(ClientSetup.allowArgument(first)).isEqualTo(EMAIL + "=" + uniqueId);
    assertThat(first.stdout())
        .contains(
            "./deploy.sh --project HOST_PROJECT --region REGION ... --allow "
                + EMAIL
                + "="
                + uniqueId);

    int before = google.requests().size();
    Gcloud.Result again = ok(script.run(temp, "--project", CLIENT, "--name", NAME));
    assertThat(again.stdout()).contains("Service account " + EMAIL + " exists.");
    assertThat(ClientSetup.uniqueId(again)).isEqualTo(uniqueId);
    assertThat(ClientSetup.mutating(google.requests().subList(before, google.requests().size())))
        .isEmpty();
    google.assertNoUnexpectedRequests();
  }

  @Test
  void gke_grantsWorkloadIdentity_writesTheManifest_checksClusters_idempotently() throws Exception {
    google
        .gke()
        .addCluster(
            CLIENT,
            "europe-west1",
            "good",
            CLIENT + ".svc.id.goog",
            Map.of("pool-a", "GKE_METADATA"));
    google
        .gke()
        .addCluster(CLIENT, "europe-west1-b", "legacy", null, Map.of("pool-b", "GCE_METADATA"));
    Path out = temp.resolve("out");

    Gcloud.Result first =
        ok(
            script.run(
                temp,
                "--project",
                CLIENT,
                "--name",
                NAME,
                "--gke",
                "payments/caller",
                "--audience",
                URL,
                "--out",
                out.toString()));

    assertThat(google.iam().grants(EMAIL, WI_ROLE, WI_MEMBER)).isTrue();
    assertThat(first.stdout())
        .contains("Granting " + WI_ROLE + " on " + EMAIL + " to " + WI_MEMBER);
    assertThat(first.stdout())
        .contains(
            "Cluster good (europe-west1): Workload Identity pool client-project.svc.id.goog: on");
    assertThat(first.stdout()).contains("node pool pool-a: GKE_METADATA: on");
    assertThat(first.stdout())
        .contains(
            "Cluster legacy (europe-west1-b): Workload Identity pool client-project.svc.id.goog:"
                + " OFF. Fix: gcloud container clusters update legacy --location=europe-west1-b"
                + " --workload-pool=client-project.svc.id.goog");
    assertThat(first.stdout()).contains("node pool pool-b: not GKE_METADATA.");
    assertThat(first.stdout()).contains("kubectl apply -f " + out + "/kubernetes.yaml");
    assertThat(first.stdout()).contains("java -jar invoke.jar " + URL);

    List<Map<String, Object>> docs = yaml(out.resolve("kubernetes.yaml"));
    assertThat(docs).hasSize(2);
    Map<String, Object> sa = docs.get(0);
    assertThat(sa).containsEntry("apiVersion", "v1");
    assertThat(sa).containsEntry("kind", "ServiceAccount");
    Map<String, Object> saMeta = map(sa, "metadata");
    assertThat(saMeta).containsEntry("name", "caller");
    assertThat(saMeta).containsEntry("namespace", "payments");
    assertThat(map(saMeta, "annotations")).containsExactly("iam.gke.io/gcp-service-account", EMAIL);
    Map<String, Object> job = docs.get(1);
    assertThat(job).containsEntry("apiVersion", "batch/v1");
    assertThat(job).containsEntry("kind", "Job");
    assertThat(map(job, "metadata")).containsEntry("namespace", "payments");
    Map<String, Object> pod = map(map(map(job, "spec"), "template"), "spec");
    assertThat(pod).containsEntry("serviceAccountName", "caller");
    assertThat(pod).containsEntry("restartPolicy", "Never");
    List<Map<String, Object>> containers = list(pod, "containers");
    assertThat(containers).hasSize(1);
    Map<String, Object> container = containers.get(0);
    // The image is the team's to set: a placeholder that cannot be pulled as is.
    assertThat((String) container.get("image")).startsWith("SET-ME");
    assertThat(list(container, "env"))
        .containsExactly(Map.of("name", "FUNCTION_URL", "value", URL));
    assertThat(container.get("command"))
        .isEqualTo(List.of("java", "-jar", "/app/invoke.jar", "$(FUNCTION_URL)"));

    int before = google.requests().size();
    Gcloud.Result again =
        ok(
            script.run(
                temp,
                "--project",
                CLIENT,
                "--name",
                NAME,
                "--gke",
                "payments/caller",
                "--audience",
                URL,
                "--out",
                out.toString()));
    assertThat(again.stdout()).contains(WI_MEMBER + " already holds " + WI_ROLE);
    assertThat(ClientSetup.mutating(google.requests().subList(before, google.requests().size())))
        .isEmpty();
    assertThat(yaml(out.resolve("kubernetes.yaml"))).isEqualTo(docs);
    google.assertNoUnexpectedRequests();
  }

  @Test
  void gke_withoutOut_writesToClientSetupOutInTheWorkingDirectory() throws Exception {
    ok(script.run(temp, "--project", CLIENT, "--name", NAME, "--gke", "default/caller"));
    List<Map<String, Object>> docs = yaml(temp.resolve("client-setup-out/kubernetes.yaml"));
    Map<String, Object> container =
        list(map(map(map(docs.get(1), "spec"), "template"), "spec"), "containers").get(0);
    // No --audience: the URL too is a placeholder the team sets.
    assertThat(list(container, "env").get(0).get("value").toString()).startsWith("SET-ME");
  }

  @Test
  void dryRun_printsEveryChange_andChangesNothing() throws Exception {
    Path out = temp.resolve("out");
    Path key = temp.resolve("key.json");
    int before = google.requests().size();

    Gcloud.Result plan =
        ok(
            script.run(
                temp,
                "--project",
                CLIENT,
                "--name",
                NAME,
                "--gke",
                "payments/caller",
                "--audience",
                URL,
                "--out",
                out.toString(),
                "--key-file",
                key.toString(),
                "--dry-run"));

    assertThat(ClientSetup.mutating(google.requests().subList(before, google.requests().size())))
        .isEmpty();
    assertThat(google.iam().serviceAccount(EMAIL)).isEmpty();
    assertThat(Files.exists(out)).isFalse();
    assertThat(Files.exists(key)).isFalse();
    assertThat(plan.stdout())
        .contains("[dry-run] gcloud iam service-accounts create " + NAME + " --project=" + CLIENT);
    assertThat(plan.stdout())
        .contains("[dry-run] gcloud iam service-accounts add-iam-policy-binding " + EMAIL);
    assertThat(plan.stdout()).contains("[dry-run] write " + out + "/kubernetes.yaml");
    assertThat(plan.stdout()).contains("[dry-run] gcloud iam service-accounts keys create " + key);
    assertThat(plan.stdout()).contains("Dry run: nothing was changed.");

    // An account with keys: the deletions are planned, not made.
    ok(script.run(temp, "--project", CLIENT, "--name", NAME, "--key-file", key.toString()));
    List<String> keys = google.iam().userManagedKeyIds(EMAIL);
    assertThat(keys).hasSize(1);
    before = google.requests().size();
    Gcloud.Result deletePlan =
        ok(script.run(temp, "--project", CLIENT, "--name", NAME, "--delete-keys", "--dry-run"));
    assertThat(deletePlan.stdout())
        .contains("[dry-run] gcloud iam service-accounts keys delete " + keys.get(0));
    assertThat(ClientSetup.mutating(google.requests().subList(before, google.requests().size())))
        .isEmpty();
    assertThat(google.iam().userManagedKeyIds(EMAIL)).isEqualTo(keys);
    google.assertNoUnexpectedRequests();
  }

  @Test
  void badInput_exitsTwo_beforeAnyRequest() throws Exception {
    Path file = Files.writeString(temp.resolve("not-a-key.json"), "{\"hello\":1}");
    // A link to where a key could go: gcloud would follow it.
    Path link = Files.createSymbolicLink(temp.resolve("link.json"), temp.resolve("elsewhere.json"));
    List<List<String>> cases =
        List.of(
            List.of("--name", NAME),
            List.of("--project", CLIENT),
            List.of("--project", "Bad_Project", "--name", NAME),
            List.of("--project", CLIENT, "--name", "short"),
            List.of("--project", CLIENT, "--name", "Upper-Case"),
            List.of("--project", CLIENT, "--name", NAME, "--gke", "no-slash"),
            List.of("--project", CLIENT, "--name", NAME, "--gke", "Bad/ksa"),
            List.of("--project", CLIENT, "--name", NAME, "--gke", "ns/"),
            List.of("--project", CLIENT, "--name", NAME, "--audience", "http://plain.example"),
            List.of("--project", CLIENT, "--name", NAME, "--audience", "https://x.run.app/?q=1"),
            List.of("--project", CLIENT, "--name", NAME, "--audience", "https://a\"b.run.app"),
            List.of("--project", CLIENT, "--name", NAME, "--out", "somewhere"),
            List.of("--project", CLIENT, "--name", NAME, "--key-file", "k.json", "--delete-keys"),
            List.of("--project", CLIENT, "--name", NAME, "--key-file", "/no/such/dir/k.json"),
            List.of("--project", CLIENT, "--name", NAME, "--key-file", file.toString()),
            List.of("--project", CLIENT, "--name", NAME, "--key-file", "-"),
            List.of("--project", CLIENT, "--name", NAME, "--key-file=-"),
            List.of("--project", CLIENT, "--name", NAME, "--key-file=--x"),
            List.of("--project", CLIENT, "--name", NAME, "--key-file="),
            List.of("--project", CLIENT, "--name", NAME, "--key-file", "/dev/stdout"),
            List.of("--project", CLIENT, "--name", NAME, "--key-file", "/dev/null"),
            List.of("--project", CLIENT, "--name", NAME, "--key-file", link.toString()),
            List.of("--project", CLIENT, "--name", NAME, "--key-file", temp + "/"),
            List.of("--project", CLIENT, "--name", NAME, "--key-file", "k\u0007.json"),
            List.of("--project=--x", "--name", NAME),
            List.of("--project", CLIENT, "--name="),
            List.of("--project", CLIENT, "--name", NAME, "--name"),
            List.of("--project", CLIENT, "--name", NAME, "--bogus"));
    for (List<String> args : cases) {
      int before = google.requests().size();
      Gcloud.Result result = script.run(temp, args.toArray(String[]::new));
      assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(2);
      assertWithMessage("%s", result).that(result.stderr()).contains("client-setup.sh: error:");
      assertWithMessage("%s", args).that(google.requests().size()).isEqualTo(before);
      assertWithMessage("%s", result).that(result.stdout()).doesNotContain("PRIVATE KEY");
    }
    assertThat(Files.readString(file)).isEqualTo("{\"hello\":1}");
    assertThat(Files.exists(temp.resolve("elsewhere.json"))).isFalse();
    assertThat(google.iam().serviceAccount(EMAIL)).isEmpty();
  }

  /**
   * {@code gcloud iam service-accounts keys create -} writes the private key to stdout: the value
   * is refused in both spellings before any call, and the message says why.
   */
  @Test
  void keyFile_dashOrOptionLikeValue_refusedBeforeGcloudWithTheReason() throws Exception {
    for (List<String> keyFile :
        List.of(List.of("--key-file", "-"), List.of("--key-file=-"), List.of("--key-file=--x"))) {
      List<String> args = new ArrayList<>(List.of("--project", CLIENT, "--name", NAME));
      args.addAll(keyFile);
      int before = google.requests().size();

      Gcloud.Result result = script.run(temp, args.toArray(String[]::new));

      assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(2);
      assertThat(result.stderr()).contains("--key-file needs a value, got '");
      assertThat(result.stderr()).contains("(a value may not start with '-')");
      assertThat(result.stdout()).doesNotContain("PRIVATE KEY");
      assertThat(google.requests().size()).isEqualTo(before);
    }
    assertThat(google.iam().serviceAccount(EMAIL)).isEmpty();
  }

  @Test
  void keyFile_isARealKeyWithModeSixHundred_andARerunMakesNoSecondKey() throws Exception {
    Path key = temp.resolve("keys/caller.json");
    Files.createDirectories(key.getParent());

    Gcloud.Result first =
        ok(script.run(temp, "--project", CLIENT, "--name", NAME, "--key-file", key.toString()));

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
        .isEqualTo("rw-------");
    JsonObject file = JsonParser.parseString(Files.readString(key)).getAsJsonObject();
    assertThat(file.get("type").getAsString()).isEqualTo("service_account");
    assertThat(file.get("client_email").getAsString()).isEqualTo(EMAIL);
    assertThat(file.get("token_uri").getAsString()).isEqualTo(google.uri() + "token/");
    assertThat(file.get("private_key").getAsString()).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(google.iam().userManagedKeyIds(EMAIL))
        .containsExactly(file.get("private_key_id").getAsString());
    assertThat(first.stderr()).contains("WARNING: " + key + " is a credential");
    assertThat(first.stdout())
        .contains("GOOGLE_APPLICATION_CREDENTIALS=" + key + " java -jar client/target/invoke.jar");

    // A looser mode is tightened again; no second key is made.
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
    Gcloud.Result again =
        ok(script.run(temp, "--project", CLIENT, "--name", NAME, "--key-file", key.toString()));
    assertThat(again.stdout()).contains("already holds a key of " + EMAIL + ": keeping it");
    assertThat(google.iam().userManagedKeyIds(EMAIL)).hasSize(1);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
        .isEqualTo("rw-------");
    google.assertNoUnexpectedRequests();
  }

  @Test
  void deleteKeys_deletesEveryUserManagedKey_andOnlyThose() throws Exception {
    ok(
        script.run(
            temp,
            "--project",
            CLIENT,
            "--name",
            NAME,
            "--key-file",
            temp.resolve("one.json").toString()));
    ok(
        script.run(
            temp,
            "--project",
            CLIENT,
            "--name",
            NAME,
            "--key-file",
            temp.resolve("two.json").toString()));
    List<String> keys = new ArrayList<>(google.iam().userManagedKeyIds(EMAIL));
    assertThat(keys).hasSize(2);

    Gcloud.Result deleted =
        ok(script.run(temp, "--project", CLIENT, "--name", NAME, "--delete-keys"));

    assertThat(google.iam().userManagedKeyIds(EMAIL)).isEmpty();
    for (String id : keys) {
      assertThat(deleted.stdout()).contains("Deleting key " + id + " of " + EMAIL);
    }
    // The stand-in refuses to delete the system-managed key: the run passing shows it was spared.
    Gcloud.Result nothing =
        ok(script.run(temp, "--project", CLIENT, "--name", NAME, "--delete-keys"));
    assertThat(nothing.stdout()).contains(EMAIL + " has no user-managed keys: nothing to delete.");
    google.assertNoUnexpectedRequests();
  }

  @Test
  void deleteKeys_oneDeleteRefused_deletesTheOthers_listsTheFailure_exitsOne() throws Exception {
    for (String name : List.of("one.json", "two.json", "three.json")) {
      ok(
          script.run(
              temp,
              "--project",
              CLIENT,
              "--name",
              NAME,
              "--key-file",
              temp.resolve(name).toString()));
    }
    List<String> keys = new ArrayList<>(google.iam().userManagedKeyIds(EMAIL));
    assertThat(keys).hasSize(3);
    String kept = keys.get(0);
    google.iam().refuseKeyDeletion(kept);

    Gcloud.Result result = script.run(temp, "--project", CLIENT, "--name", NAME, "--delete-keys");

    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(1);
    // Every key was tried, the first failure did not stop the others.
    for (String id : keys) {
      assertThat(result.stdout()).contains("Deleting key " + id + " of " + EMAIL);
    }
    assertThat(google.iam().userManagedKeyIds(EMAIL)).containsExactly(kept);
    assertThat(result.stderr()).contains("1 step(s) failed");
    assertThat(result.stderr()).contains("  - deleting key " + kept + " of " + EMAIL + " failed");
    // The summary still tells the host team what they need.
    assertThat(ClientSetup.uniqueId(result)).isEqualTo(TestIssuer.uniqueIdOf(EMAIL));
  }

  @Test
  void keyFile_refusedByOrganizationPolicy_saysWhichPolicyAndWhatToDo() throws Exception {
    google.iam().refuseKeyCreation(CLIENT);
    Path key = temp.resolve("key.json");

    Gcloud.Result refused =
        script.run(temp, "--project", CLIENT, "--name", NAME, "--key-file", key.toString());

    assertWithMessage("%s", refused).that(refused.exitCode()).isEqualTo(1);
    assertThat(refused.stderr())
        .contains(
            "an organization policy ("
                + IamServiceAccounts.KEY_CREATION_CONSTRAINT
                + ") forbids keys for "
                + EMAIL);
    assertThat(refused.stderr()).contains("Workload Identity");
    assertThat(refused.stderr()).doesNotContain("WARNING");
    assertThat(Files.exists(key)).isFalse();
    assertThat(google.iam().userManagedKeyIds(EMAIL)).isEmpty();
    google.assertNoUnexpectedRequests();
  }

  private static Gcloud.Result ok(Gcloud.Result result) {
    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    return result;
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> yaml(Path file) throws Exception {
    List<Map<String, Object>> docs = new ArrayList<>();
    for (Object doc :
        new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(Files.readString(file))) {
      docs.add((Map<String, Object>) doc);
    }
    return docs;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Map<String, Object> parent, String key) {
    Object value = parent.get(key);
    assertWithMessage("%s in %s", key, parent).that(value).isInstanceOf(Map.class);
    return (Map<String, Object>) value;
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> list(Map<String, Object> parent, String key) {
    Object value = parent.get(key);
    assertWithMessage("%s in %s", key, parent).that(value).isInstanceOf(List.class);
    return (List<Map<String, Object>>) value;
  }
}
