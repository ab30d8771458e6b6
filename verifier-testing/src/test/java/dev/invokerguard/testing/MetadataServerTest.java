package dev.invokerguard.testing;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MetadataServerTest {

  private static final String ACCOUNT = "runner@proj-7.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://fn-xyz-uc.a.run.app";

  private final TestIssuer issuer = TestIssuer.start();
  private final MetadataServer metadata = issuer.startMetadataServer(ACCOUNT);

  @AfterEach
  void closeIssuer() {
    issuer.close();
  }

  @Test
  void host_isLoopbackWithPort() {
    assertThat(metadata.host()).matches("127\\.0\\.0\\.1:[0-9]+");
  }

  @Test
  void identity_withoutFlavorHeader_forbidden() throws Exception {
    HttpResponse<String> response =
        get(identityUri("audience=" + encode(AUDIENCE) + "&format=full"));

    assertThat(response.statusCode()).isEqualTo(403);
    assertThat(response.body()).doesNotContain(".");
    assertThat(metadata.identityRequestCount()).isEqualTo(1);
    assertThat(metadata.lastIdentityRequest().orElseThrow().hadFlavorHeader()).isFalse();
  }

  @Test
  void identity_wrongFlavorValue_forbidden() throws Exception {
    HttpResponse<String> response = get(identityUri("audience=a"), "Metadata-Flavor", "google-ish");

    assertThat(response.statusCode()).isEqualTo(403);
  }

  @Test
  void identity_withoutAudience_badRequest() throws Exception {
    assertThat(getFlavored(identityUri("format=full")).statusCode()).isEqualTo(400);
    assertThat(getFlavored(identityUri("audience=&format=full")).statusCode()).isEqualTo(400);
  }

  @Test
  void identity_unknownFormat_badRequest() throws Exception {
    assertThat(getFlavored(identityUri("audience=a&format=fancy")).statusCode()).isEqualTo(400);
  }

  @Test
  void identity_fullFormat_isSignedTokenWithEmailAndFlavorHeader() throws Exception {
    HttpResponse<String> response =
        getFlavored(identityUri("audience=" + encode(AUDIENCE) + "&format=full&licenses=TRUE"));

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Metadata-Flavor")).hasValue("Google");
    String token = response.body();
    String kid = Jwt.header(token).get("kid").getAsString();
    assertThat(Jwt.signatureValid(token, Jwt.fetchKeys(issuer.jwksUri()).get(kid))).isTrue();
    JsonObject payload = Jwt.payload(token);
    assertThat(payload.get("aud").getAsString()).isEqualTo(AUDIENCE);
    assertThat(payload.get("iss").getAsString()).isEqualTo("https://accounts.google.com");
    assertThat(payload.get("email").getAsString()).isEqualTo(ACCOUNT);
    assertThat(payload.get("email_verified").getAsBoolean()).isTrue();
    assertThat(payload.get("sub").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(ACCOUNT));
    assertThat(payload.get("azp").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(ACCOUNT));
    assertThat(
            payload
                .getAsJsonObject("google")
                .getAsJsonObject("compute_engine")
                .get("project_id")
                .getAsString())
        .isEqualTo("proj-7");
    assertThat(metadata.lastIdentityRequest().orElseThrow())
        .isEqualTo(new MetadataServer.IdentityRequest(AUDIENCE, "full", true));
  }

  @Test
  void identity_standardFormat_omitsEmail() throws Exception {
    HttpResponse<String> response = getFlavored(identityUri("audience=" + encode(AUDIENCE)));

    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject payload = Jwt.payload(response.body());
    assertThat(payload.keySet()).containsExactly("aud", "azp", "exp", "iat", "iss", "sub");
    assertThat(payload.get("sub").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(ACCOUNT));
    assertThat(Jwt.signatureValid(response.body(), issuer.publicKey(issuer.activeKeyId())))
        .isTrue();
  }

  @Test
  void identity_underAccountEmailAlias_answered() throws Exception {
    URI uri =
        URI.create(
            "http://"
                + metadata.host()
                + "/computeMetadata/v1/instance/service-accounts/"
                + ACCOUNT
                + "/identity?audience=x&format=full");

    HttpResponse<String> response = getFlavored(uri);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(Jwt.payload(response.body()).get("aud").getAsString()).isEqualTo("x");
  }

  @Test
  void identity_afterRotate_signedWithNewActiveKey() throws Exception {
    String rotated = issuer.rotate();

    String token = getFlavored(identityUri("audience=a")).body();

    assertThat(Jwt.header(token).get("kid").getAsString()).isEqualTo(rotated);
  }

  @Test
  void failNext_failsThatManyIdentityRequestsThenRecovers() throws Exception {
    metadata.failNext(2, 503);
    URI uri = identityUri("audience=a&format=full");

    assertThat(getFlavored(uri).statusCode()).isEqualTo(503);
    assertThat(getFlavored(uri).statusCode()).isEqualTo(503);
    HttpResponse<String> third = getFlavored(uri);

    assertThat(third.statusCode()).isEqualTo(200);
    assertThat(Jwt.payload(third.body()).get("email").getAsString()).isEqualTo(ACCOUNT);
    assertThat(metadata.identityRequestCount()).isEqualTo(3);
  }

  @Test
  void failNext_refusedRequestsDoNotUseUpFailures() throws Exception {
    metadata.failNext(1, 429);

    assertThat(get(identityUri("audience=a")).statusCode()).isEqualTo(403);
    assertThat(getFlavored(identityUri("audience=a")).statusCode()).isEqualTo(429);
    assertThat(getFlavored(identityUri("audience=a")).statusCode()).isEqualTo(200);
  }

  @Test
  void failNext_doesNotAffectOtherEndpoints() throws Exception {
    metadata.failNext(1, 500);

    assertThat(getFlavored(pathUri("/computeMetadata/v1/project/project-id")).statusCode())
        .isEqualTo(200);
    assertThat(getFlavored(identityUri("audience=a")).statusCode()).isEqualTo(500);
  }

  @Test
  void dropNext_closesConnectionUnansweredThenRecovers() throws Exception {
    metadata.dropNext(1);
    String[] hostAndPort = metadata.host().split(":");

    // A raw socket, because HTTP clients may silently retry a GET on a dropped connection.
    try (Socket socket = new Socket(hostAndPort[0], Integer.parseInt(hostAndPort[1]))) {
      socket.setSoTimeout(10_000);
      socket
          .getOutputStream()
          .write(
              ("GET "
                      + MetadataServer.IDENTITY_PATH
                      + "?audience=a HTTP/1.1\r\n"
                      + "Host: "
                      + metadata.host()
                      + "\r\n"
                      + "Metadata-Flavor: Google\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      assertThat(socket.getInputStream().read()).isEqualTo(-1);
    }
    assertThat(getFlavored(identityUri("audience=a")).statusCode()).isEqualTo(200);
    assertThat(metadata.identityRequestCount()).isEqualTo(2);
  }

  @Test
  void delay_holdsAnswerAndCloseReleasesWaitingRequest() throws Exception {
    metadata.delay(Duration.ofHours(1));
    CompletableFuture<HttpResponse<String>> waiting =
        Jwt.HTTP.sendAsync(
            HttpRequest.newBuilder(identityUri("audience=a"))
                .header("Metadata-Flavor", "Google")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(metadata.awaitIdentityRequestCount(1, Duration.ofSeconds(10))).isTrue();
    assertThat(waiting.isDone()).isFalse();

    issuer.close();

    ExecutionException dropped =
        assertThrows(ExecutionException.class, () -> waiting.get(10, TimeUnit.SECONDS));
    assertThat(dropped).hasCauseThat().isInstanceOf(IOException.class);
  }

  @Test
  void detectionPing_answersWithFlavorHeader() throws Exception {
    HttpResponse<String> response = getFlavored(pathUri("/"));

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Metadata-Flavor")).hasValue("Google");
  }

  @Test
  void accountEndpoints_answerEmailProjectUniverseAndAccessToken() throws Exception {
    assertThat(
            getFlavored(pathUri("/computeMetadata/v1/instance/service-accounts/default/email"))
                .body())
        .isEqualTo(ACCOUNT);
    assertThat(getFlavored(pathUri("/computeMetadata/v1/project/project-id")).body())
        .isEqualTo("proj-7");
    assertThat(getFlavored(pathUri("/computeMetadata/v1/universe/universe-domain")).body())
        .isEqualTo("googleapis.com");
    JsonObject accessToken =
        JsonParser.parseString(
                getFlavored(pathUri("/computeMetadata/v1/instance/service-accounts/default/token"))
                    .body())
            .getAsJsonObject();
    assertThat(accessToken.get("token_type").getAsString()).isEqualTo("Bearer");
    assertThat(accessToken.get("expires_in").getAsInt()).isGreaterThan(0);
  }

  @Test
  void unknownPath_notFound() throws Exception {
    assertThat(getFlavored(pathUri("/computeMetadata/v1/instance/zone")).statusCode())
        .isEqualTo(404);
  }

  @Test
  void forwardedRequest_forbidden() throws Exception {
    HttpResponse<String> response =
        get(
            identityUri("audience=a"),
            "Metadata-Flavor",
            "Google",
            "X-Forwarded-For",
            "203.0.113.9");

    assertThat(response.statusCode()).isEqualTo(403);
  }

  @Test
  void issuerClose_closesMetadataServer() throws Exception {
    URI uri = pathUri("/");

    issuer.close();

    assertThrows(IOException.class, () -> getFlavored(uri));
  }

  private URI identityUri(String query) {
    return pathUri(MetadataServer.IDENTITY_PATH + "?" + query);
  }

  private URI pathUri(String pathAndQuery) {
    return URI.create("http://" + metadata.host() + pathAndQuery);
  }

  private static HttpResponse<String> getFlavored(URI uri) throws Exception {
    return get(uri, "Metadata-Flavor", "Google");
  }

  private static HttpResponse<String> get(URI uri, String... headerNamesAndValues)
      throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
    if (headerNamesAndValues.length > 0) {
      request.headers(headerNamesAndValues);
    }
    return Jwt.HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }
}
