package dev.invokerguard.standin;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.TestIssuer;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cloud Run's invoker IAM check as the real {@code gcloud} 528 sets and reads it (skipped without
 * gcloud on the PATH): {@code gcloud run services update --no-invoker-iam-check} GETs the Knative
 * service and PUTs it back with the annotation {@code run.googleapis.com/invoker-iam-disabled:
 * "True"} ({@code --invoker-iam-check}: {@code "False"}); {@code describe} shows the annotation;
 * the front end forwards every request unjudged while it is true.
 */
class InvokerIamCheckGcloudTest {
  private static final String REGION = "europe-west1";
  private static final String NAME = "invoker-guard";

  @TempDir Path temp;
  private TestIssuer issuer;
  private GoogleStandIn google;
  private HeaderEcho backend;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void setUp() {
    Assumptions.assumeTrue(
        Gcloud.find().isPresent(), "gcloud is not on PATH: this test needs the real CLI");
    issuer = TestIssuer.start();
    backend = new HeaderEcho();
  }

  @AfterEach
  void tearDown() {
    if (google != null) {
      google.close();
    }
    if (backend != null) {
      backend.close();
    }
    if (issuer != null) {
      issuer.close();
    }
  }

  private Gcloud start(FrontEndMode mode) throws Exception {
    google =
        GoogleStandIn.builder()
            .issuer(issuer)
            .project("host-project")
            .workDir(temp.resolve("google"))
            .frontEndMode(mode)
            .start();
    google.addIdleFunction(REGION, NAME, 2).serveWith(backend.port());
    return Gcloud.activate(
        temp.resolve("gcloud"), google, "deployer@host-project.iam.gserviceaccount.com");
  }

  private Gcloud.Result gcloud(Gcloud gcloud, String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>(List.of(args));
    command.addAll(List.of(NAME, "--region=" + REGION, "--project=host-project"));
    Gcloud.Result result = gcloud.gcloud(command.toArray(String[]::new));
    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    return result;
  }

  /** The annotation in the last PUT of the Knative service. */
  private String lastWrittenAnnotation() {
    List<GoogleStandIn.Request> puts =
        google.requests().stream()
            .filter(r -> r.method().equals("PUT") && r.api().equals("run"))
            .toList();
    JsonObject annotations =
        Json.child(
            Json.child(Json.object(puts.get(puts.size() - 1).body()), "metadata"), "annotations");
    return Json.string(annotations, RunServices.INVOKER_IAM_DISABLED);
  }

  private String describedAnnotation(Gcloud gcloud) throws Exception {
    Gcloud.Result described = gcloud(gcloud, "run", "services", "describe", "--format=json");
    JsonObject service = JsonParser.parseString(described.stdout()).getAsJsonObject();
    return Json.string(
        Json.child(Json.child(service, "metadata"), "annotations"),
        RunServices.INVOKER_IAM_DISABLED);
  }

  private int callWithoutToken() throws Exception {
    return http.send(
            HttpRequest.newBuilder(google.function(REGION, NAME).frontEnd())
                .timeout(Duration.ofSeconds(30))
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .statusCode();
  }

  @Test
  void noInvokerIamCheck_writesTheAnnotationTrue_andTheFrontEndLetsEveryoneIn_untilSwitchedBack()
      throws Exception {
    Gcloud gcloud = start(FrontEndMode.STRIP_SERVERLESS_ONLY);
    assertThat(describedAnnotation(gcloud)).isNull();
    assertThat(callWithoutToken()).isEqualTo(401);

    gcloud(gcloud, "run", "services", "update", "--no-invoker-iam-check");

    assertThat(lastWrittenAnnotation()).isEqualTo("True");
    assertThat(describedAnnotation(gcloud)).isEqualTo("True");
    assertThat(google.function(REGION, NAME).invokerIamCheck()).isFalse();
    assertThat(callWithoutToken()).isEqualTo(200);

    gcloud(gcloud, "run", "services", "update", "--invoker-iam-check");

    assertThat(lastWrittenAnnotation()).isEqualTo("False");
    assertThat(describedAnnotation(gcloud)).isEqualTo("False");
    assertThat(google.function(REGION, NAME).invokerIamCheck()).isTrue();
    assertThat(callWithoutToken()).isEqualTo(401);
    google.assertNoUnexpectedRequests();
  }

  @Test
  void modeInvokerCheckOff_servicesStartWithTheCheckOff_asDescribeShows() throws Exception {
    Gcloud gcloud = start(FrontEndMode.INVOKER_CHECK_OFF);

    assertThat(describedAnnotation(gcloud)).isEqualTo("True");
    assertThat(callWithoutToken()).isEqualTo(200);
    google.assertNoUnexpectedRequests();
  }
}
