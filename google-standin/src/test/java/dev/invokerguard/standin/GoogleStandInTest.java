package dev.invokerguard.standin;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.TestIssuer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
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

  /** Sends {@code head} (request line and headers) on a raw loopback socket; the status line. */
  private String raw(String head) throws Exception {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), google.uri().getPort())) {
      socket.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
      String status = in.readLine();
      return status == null ? "" : status;
    }
  }

  @Test
  void proxiedRequest_forAHostThatIsNotTheStandIns_isUnexpected_andNotServed() throws Exception {
    // What gcloud sends through its proxy for a host nobody overrode (absolute form); sent on a
    // loopback socket so that nothing can go to that address.
    String status =
        raw(
            "GET http://run.googleapis.com/run/v1/projects/host-project/locations HTTP/1.1\r\n"
                + "Host: run.googleapis.com\r\nConnection: close\r\n\r\n");

    assertThat(status).contains(" 501 ");
    AssertionError error = assertThrows(AssertionError.class, google::assertNoUnexpectedRequests);
    assertThat(error).hasMessageThat().contains("(Host: run.googleapis.com)");
  }

  @Test
  void proxyTunnel_connect_isClosedUnanswered_noTunnelOpened() throws Exception {
    // An https API nobody overrode would reach the proxy as CONNECT. The JDK server cannot route a
    // request without a path and closes the connection: no tunnel, so gcloud fails with a proxy
    // error (and the test with it); it never reaches the handler, so it is not in requests().
    String status =
        raw(
            "CONNECT oauth2.googleapis.com:443 HTTP/1.1\r\nHost: oauth2.googleapis.com:443\r\n"
                + "Connection: close\r\n\r\n");

    assertThat(status).doesNotContain(" 200");
    assertThat(google.requests()).isEmpty();
  }

  @Test
  void proxiedRequest_forTheDerivedRegionalHost_isRoutedByPath() throws Exception {
    int port = google.uri().getPort();
    String status =
        raw(
            "GET http://europe-west1-127.0.0.1:"
                + port
                + "/run/apis/serving.knative.dev/v1/namespaces/host-project/services/f HTTP/1.1\r\n"
                + "Host: europe-west1-127.0.0.1:"
                + port
                + "\r\nConnection: close\r\n\r\n");

    // Routed to Cloud Run, which wants an access token first: not an unexpected request.
    assertThat(status).contains(" 401 ");
    google.assertNoUnexpectedRequests();
    assertThat(google.requests().get(0).host()).isEqualTo("europe-west1-127.0.0.1:" + port);
  }

  @Test
  void orgPolicy_domainRestrictedSharing_refusesAPolicyNamingAMemberOutsideIt() {
    ResourcePolicies policies = new ResourcePolicies();
    policies.restrictMembers(member -> !member.endsWith("@client-two.iam.gserviceaccount.com"));
    JsonObject allowed =
        JsonParser.parseString(
                "{\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":"
                    + "[\"serviceAccount:a@client-one.iam.gserviceaccount.com\"]}]}")
            .getAsJsonObject();
    JsonObject refused =
        JsonParser.parseString(
                "{\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":"
                    + "[\"serviceAccount:a@client-one.iam.gserviceaccount.com\","
                    + "\"serviceAccount:b@client-two.iam.gserviceaccount.com\"]}]}")
            .getAsJsonObject();

    policies.checkPermittedMembers(allowed);
    ApiException e =
        assertThrows(ApiException.class, () -> policies.checkPermittedMembers(refused));

    assertThat(e.code).isEqualTo(400);
    assertThat(e.status).isEqualTo("FAILED_PRECONDITION");
    assertThat(e).hasMessageThat().contains("do not belong to a permitted customer");
    assertThat(e.details.toString()).contains("constraints/iam.allowedPolicyMemberDomains");
    assertThat(e.details.toString()).contains("type.googleapis.com/google.rpc.PreconditionFailure");
  }

  @Test
  void gcloudEnvironment_makesTheStandInGcloudsHttpProxy() {
    assertThat(google.gcloudEnvironment())
        .containsAtLeast(
            "CLOUDSDK_PROXY_TYPE",
            "http",
            "CLOUDSDK_PROXY_ADDRESS",
            "127.0.0.1",
            "CLOUDSDK_PROXY_PORT",
            Integer.toString(google.uri().getPort()));
  }

  @Test
  void gcloudEnvironment_sendsEveryApiToLoopback() {
    assertThat(google.gcloudEnvironment()).containsKey("CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN");
    google.gcloudEnvironment().entrySet().stream()
        .filter(e -> e.getKey().startsWith("CLOUDSDK_API_ENDPOINT_OVERRIDES_"))
        .forEach(e -> assertThat(e.getValue()).startsWith("http://127.0.0.1:"));
  }
}
