package dev.invokerguard.standin;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import dev.invokerguard.testing.TestIssuer;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Cloud Run v1 services as {@code gcloud run services update --add-custom-audiences} uses them. */
class RunServicesTest {
  private static final String REGION = "europe-west1";
  private static final String SERVICE =
      "/apis/serving.knative.dev/v1/namespaces/host-project/services/invoker-guard";

  @TempDir Path temp;
  private TestIssuer issuer;
  private GoogleStandIn google;
  private DeployedFunction function;
  private RunServices run;

  @BeforeEach
  void setUp() {
    issuer = TestIssuer.start();
    google = GoogleStandIn.builder().issuer(issuer).project("host-project").workDir(temp).start();
    function = new DeployedFunction(google, "host-project", REGION, "invoker-guard", 2);
    run =
        new RunServices(
            "host-project",
            "123456789012",
            google.clock(),
            (region, name) ->
                region.equals(REGION) && name.equals("invoker-guard") ? function : null,
            new ResourcePolicies());
  }

  @AfterEach
  void tearDown() {
    function.close();
    google.close();
    issuer.close();
  }

  private static GoogleStandIn.Request request(String method, String path, String body) {
    return new GoogleStandIn.Request(
        Instant.EPOCH, method, "run", path, "alt=json", body, "europe-west1-127.0.0.1:1");
  }

  /** What gcloud 528 PUTs: the service it read, with the annotation set. */
  private JsonObject withAudiences(JsonObject service, String audiencesJson) {
    JsonObject written = service.deepCopy();
    written
        .getAsJsonObject("metadata")
        .getAsJsonObject("annotations")
        .addProperty(RunServices.CUSTOM_AUDIENCES, audiencesJson);
    return written;
  }

  @Test
  void regionOf_readsTheRegionGcloudPutBeforeTheHost_only() {
    assertThat(RunServices.regionOf("europe-west1-127.0.0.1:8080", "127.0.0.1:8080"))
        .isEqualTo("europe-west1");
    assertThat(RunServices.regionOf("us-central1-127.0.0.1:8080", "127.0.0.1:8080"))
        .isEqualTo("us-central1");
    assertThat(RunServices.regionOf("127.0.0.1:8080", "127.0.0.1:8080")).isNull();
    assertThat(RunServices.regionOf("europe-west1-127.0.0.1:9999", "127.0.0.1:8080")).isNull();
    assertThat(RunServices.regionOf("evil.example-127.0.0.1:8080", "127.0.0.1:8080")).isNull();
    assertThat(RunServices.regionOf(null, "127.0.0.1:8080")).isNull();
  }

  @Test
  void get_isReady_atTheFunctionsRevision_withoutCustomAudiences() {
    JsonObject service = run.route(request("GET", SERVICE, ""), REGION);

    assertThat(service.get("kind").getAsString()).isEqualTo("Service");
    JsonObject status = service.getAsJsonObject("status");
    assertThat(status.get("observedGeneration"))
        .isEqualTo(service.getAsJsonObject("metadata").get("generation"));
    assertThat(status.toString()).contains("\"type\":\"Ready\",\"status\":\"True\"");
    assertThat(service.getAsJsonObject("metadata").getAsJsonObject("annotations").toString())
        .doesNotContain(RunServices.CUSTOM_AUDIENCES);
    String revision = status.get("latestReadyRevisionName").getAsString();
    JsonObject read =
        run.route(
            request(
                "GET",
                "/apis/serving.knative.dev/v1/namespaces/123456789012/revisions/" + revision,
                ""),
            REGION);
    assertThat(read.get("kind").getAsString()).isEqualTo("Revision");
  }

  @Test
  void replace_setsTheCustomAudiences_whichTheFrontEndThenAccepts() {
    JsonObject service = run.route(request("GET", SERVICE, ""), REGION);

    JsonObject replaced =
        run.route(
            request("PUT", SERVICE, withAudiences(service, "[\"https://api.example\"]").toString()),
            REGION);

    assertThat(function.customAudiences()).containsExactly("https://api.example");
    assertThat(function.audiences()).contains("https://api.example");
    assertThat(replaced.getAsJsonObject("metadata").get("generation").getAsLong())
        .isEqualTo(service.getAsJsonObject("metadata").get("generation").getAsLong() + 1);
    assertThat(
            run.route(request("GET", SERVICE, ""), REGION)
                .getAsJsonObject("metadata")
                .getAsJsonObject("annotations")
                .get(RunServices.CUSTOM_AUDIENCES)
                .getAsString())
        .isEqualTo("[\"https://api.example\"]");
  }

  @Test
  void replace_withAStaleResourceVersion_is409_andChangesNothing() {
    JsonObject stale = run.route(request("GET", SERVICE, ""), REGION);
    run.route(
        request("PUT", SERVICE, withAudiences(stale, "[\"https://a.example\"]").toString()),
        REGION);

    ApiException e =
        assertThrows(
            ApiException.class,
            () ->
                run.route(
                    request(
                        "PUT", SERVICE, withAudiences(stale, "[\"https://b.example\"]").toString()),
                    REGION));

    assertThat(e.code).isEqualTo(409);
    assertThat(function.customAudiences()).containsExactly("https://a.example");
  }

  @Test
  void replace_withAudiencesThatAreNotAList_is400() {
    JsonObject service = run.route(request("GET", SERVICE, ""), REGION);
    for (String bad : new String[] {"https://a.example", "[1]", "[\"\"]", "{}"}) {
      ApiException e =
          assertThrows(
              ApiException.class,
              () ->
                  run.route(
                      request("PUT", SERVICE, withAudiences(service, bad).toString()), REGION));
      assertThat(e.code).isEqualTo(400);
    }
    assertThat(function.customAudiences()).isEmpty();
  }

  @Test
  void unknownService_404_otherProject_403_globalHost_notServed() {
    ApiException missing =
        assertThrows(
            ApiException.class,
            () ->
                run.route(
                    request(
                        "GET",
                        "/apis/serving.knative.dev/v1/namespaces/host-project/services/nope",
                        ""),
                    REGION));
    assertThat(missing.code).isEqualTo(404);
    ApiException other =
        assertThrows(
            ApiException.class,
            () ->
                run.route(
                    request(
                        "GET",
                        "/apis/serving.knative.dev/v1/namespaces/other-project/services/x",
                        ""),
                    REGION));
    assertThat(other.code).isEqualTo(403);
    assertThat(run.route(request("GET", SERVICE, ""), null)).isNull();
  }

  @Test
  void invokerIamDisabledAnnotation_turnsTheCheckOff_keptAsWritten_andOnlyBooleansTaken() {
    JsonObject service = run.route(request("GET", SERVICE, ""), REGION);
    JsonObject off = service.deepCopy();
    off.getAsJsonObject("metadata")
        .getAsJsonObject("annotations")
        .addProperty(RunServices.INVOKER_IAM_DISABLED, "True");

    JsonObject written = run.route(request("PUT", SERVICE, off.toString()), REGION);

    assertThat(function.invokerIamCheck()).isFalse();
    assertThat(
            written
                .getAsJsonObject("metadata")
                .getAsJsonObject("annotations")
                .get(RunServices.INVOKER_IAM_DISABLED)
                .getAsString())
        .isEqualTo("True");

    JsonObject bad = written.deepCopy();
    bad.getAsJsonObject("metadata")
        .getAsJsonObject("annotations")
        .addProperty(RunServices.INVOKER_IAM_DISABLED, "maybe");
    ApiException e =
        assertThrows(
            ApiException.class, () -> run.route(request("PUT", SERVICE, bad.toString()), REGION));
    assertThat(e.code).isEqualTo(400);
    assertThat(function.invokerIamCheck()).isFalse();
  }
}
