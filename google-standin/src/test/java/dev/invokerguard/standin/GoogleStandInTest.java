package dev.invokerguard.standin;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.TestIssuer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stand-in's own behaviour, without gcloud (OfflineJourneyIT drives it with gcloud). */
class GoogleStandInTest {
  @TempDir Path temp;
  private TestIssuer issuer;
  private GoogleStandIn google;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void setUp() {
    issuer = TestIssuer.start();
    google = GoogleStandIn.builder().issuer(issuer).project("host-project").workDir(temp).start();
  }

  @AfterEach
  void tearDown() {
    google.close();
    issuer.close();
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(google.uri() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void unknownRequest_isAnswered501_andNamedByTheAssertion() throws Exception {
    HttpResponse<String> response = get("compute/v1/projects/host-project/zones");
    assertThat(response.statusCode()).isEqualTo(501);
    assertThat(response.body()).contains("UNIMPLEMENTED");
    AssertionError error = assertThrows(AssertionError.class, google::assertNoUnexpectedRequests);
    assertThat(error).hasMessageThat().contains("GET /compute/v1/projects/host-project/zones");
  }

  @Test
  void apiRequestWithoutAccessToken_is401Unauthenticated() throws Exception {
    HttpResponse<String> response =
        get("cloudfunctions/v2/projects/host-project/locations/europe-west1/functions/f");
    assertThat(response.statusCode()).isEqualTo(401);
    assertThat(response.body()).contains("\"status\":\"UNAUTHENTICATED\"");
  }

  @Test
  void gcloudEnvironment_sendsEveryApiToLoopback() {
    assertThat(google.gcloudEnvironment()).containsKey("CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN");
    google
        .gcloudEnvironment()
        .values()
        .forEach(url -> assertThat(url).startsWith("http://127.0.0.1:"));
  }
}
