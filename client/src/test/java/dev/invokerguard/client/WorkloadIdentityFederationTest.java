package dev.invokerguard.client;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.api.client.http.javanet.NetHttpTransport;
import com.google.auth.http.HttpTransportFactory;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Workload Identity Federation through the real google-auth-library: an {@code external_account}
 * configuration file (a file subject token, as {@code gcloud iam workload-identity-pools
 * create-cred-config} writes for on-premises callers), a loopback stand-in for Google's Security
 * Token Service and for IAM's generateIdToken, and ID tokens minted by a {@link TestIssuer}.
 */
class WorkloadIdentityFederationTest {

  private static final String ACCOUNT = "onprem-caller@client-project.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://europe-west1-host-project.cloudfunctions.net/fn";
  private static final String POOL_AUDIENCE =
      "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/onprem"
          + "/providers/corp-idp";
  private static final String SUBJECT_TOKEN = "subject-token-from-the-corporate-idp";
  private static final Pattern IAM_PATH =
      Pattern.compile(
          "/v1/projects/-/serviceAccounts/([^/:]+):(generateIdToken|generateAccessToken)");

  @TempDir Path dir;
  private TestIssuer issuer;
  private HttpServer google;
  private final List<String> calls = new ArrayList<>();
  private final List<String> hostsAsked = new ArrayList<>();
  private volatile int idTokenStatus = 200;
  private String issuedFederatedToken;
  private JsonObject idTokenRequest;

  @BeforeEach
  void start() throws IOException {
    issuer = TestIssuer.start();
    google = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    google.createContext("/v1/token", this::sts);
    google.createContext("/v1/projects/", this::iam);
    google.start();
  }

  @AfterEach
  void stop() {
    google.stop(0);
    issuer.close();
  }

  private int port() {
    return google.getAddress().getPort();
  }

  /** The credential configuration; {@code account} null leaves out the impersonation URL. */
  private GoogleCredentials configuration(String account) throws IOException {
    Path subjectToken = Files.writeString(dir.resolve("subject-token"), SUBJECT_TOKEN);
    JsonObject source = new JsonObject();
    source.addProperty("file", subjectToken.toString());
    JsonObject config = new JsonObject();
    config.addProperty("type", "external_account");
    config.addProperty("audience", POOL_AUDIENCE);
    config.addProperty("subject_token_type", "urn:ietf:params:oauth:token-type:jwt");
    config.addProperty("token_url", "https://sts.googleapis.com/v1/token");
    config.add("credential_source", source);
    if (account != null) {
      config.addProperty(
          "service_account_impersonation_url",
          "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
              + account
              + ":generateAccessToken");
    }
    Path file = Files.writeString(dir.resolve("credential-configuration.json"), config.toString());
    try (InputStream in = Files.newInputStream(file)) {
      // The library's own parsing of the file; its token exchange goes over this transport.
      return GoogleCredentials.fromStream(in, googleOnLoopback());
    }
  }

  /**
   * Google's endpoints are https URLs (the library refuses others in a configuration, and IAM's is
   * fixed in it): this transport sends every request to the loopback server instead, recording the
   * host it was meant for.
   */
  private HttpTransportFactory googleOnLoopback() {
    return () ->
        new NetHttpTransport.Builder()
            .setConnectionFactory(
                url -> {
                  synchronized (calls) {
                    hostsAsked.add(url.getHost());
                  }
                  return (HttpURLConnection)
                      new URL("http", "127.0.0.1", port(), url.getFile()).openConnection();
                })
            .build();
  }

  private IdTokenAuthenticator authenticator(GoogleCredentials credentials) {
    return IdTokenAuthenticator.builder()
        .audience(AUDIENCE)
        .credentials(credentials)
        .iamTransport(googleOnLoopback())
        .environment(name -> null)
        .build();
  }

  @Test
  void configNamingAServiceAccount_idTokenFromIamWithTheFederatedToken() throws Exception {
    IdTokenAuthenticator auth = authenticator(configuration(ACCOUNT));

    String header = auth.authorizationHeaderValue();
    auth.authorizationHeaderValue(); // cached: no second exchange

    assertThat(auth.credentialSource()).isEqualTo(CredentialSource.WORKLOAD_IDENTITY_FEDERATION);
    assertThat(header).startsWith("Bearer ");
    JsonObject claims = claims(header.substring("Bearer ".length()));
    assertThat(claims.get("email").getAsString()).isEqualTo(ACCOUNT);
    assertThat(claims.get("aud").getAsString()).isEqualTo(AUDIENCE);
    // The subject token was exchanged once, and its federated token (not a token of the account
    // itself: no generateAccessToken) asked IAM for the account's ID token, with its email.
    assertThat(calls).containsExactly("sts", "generateIdToken " + ACCOUNT).inOrder();
    assertThat(hostsAsked)
        .containsExactly("sts.googleapis.com", "iamcredentials.googleapis.com")
        .inOrder();
    assertThat(idTokenRequest.get("audience").getAsString()).isEqualTo(AUDIENCE);
    assertThat(idTokenRequest.get("includeEmail").getAsBoolean()).isTrue();
  }

  @Test
  void configWithoutServiceAccount_refusedAsUnsupported_beforeAnyExchange() throws Exception {
    IdTokenAuthenticator auth = authenticator(configuration(null));

    IdTokenException e = assertThrows(IdTokenException.class, auth::authorizationHeaderValue);

    assertThat(e.source()).isEqualTo(CredentialSource.UNSUPPORTED);
    assertThat(e).hasMessageThat().contains("names no service account");
    assertThat(e).hasMessageThat().contains("--service-account=SA");
    assertThat(calls).isEmpty();
  }

  @Test
  void iamRefusesTheIdToken_failsAtOnceNamingFederationAndTheRole() throws Exception {
    idTokenStatus = 403;
    IdTokenAuthenticator auth = authenticator(configuration(ACCOUNT));

    IdTokenException e = assertThrows(IdTokenException.class, auth::authorizationHeaderValue);

    assertThat(e.source()).isEqualTo(CredentialSource.WORKLOAD_IDENTITY_FEDERATION);
    assertThat(e).hasMessageThat().contains("Workload Identity Federation");
    assertThat(e).hasMessageThat().contains("roles/iam.serviceAccountOpenIdTokenCreator");
    assertThat(e).hasMessageThat().doesNotContain(SUBJECT_TOKEN);
    assertThat(calls).containsExactly("sts", "generateIdToken " + ACCOUNT).inOrder();
  }

  private static JsonObject claims(String token) {
    String payload = token.split("\\.")[1];
    return JsonParser.parseString(
            new String(Base64.getUrlDecoder().decode(payload), StandardCharsets.UTF_8))
        .getAsJsonObject();
  }

  /** RFC 8693 token exchange, as Google's Security Token Service answers it. */
  private void sts(HttpExchange exchange) throws IOException {
    try (exchange) {
      Map<String, String> form =
          FormHttp.parseForm(
              new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
      synchronized (calls) {
        calls.add("sts");
      }
      if (!"urn:ietf:params:oauth:grant-type:token-exchange".equals(form.get("grant_type"))
          || !SUBJECT_TOKEN.equals(form.get("subject_token"))
          || !POOL_AUDIENCE.equals(form.get("audience"))) {
        FormHttp.send(exchange, 400, "{\"error\":\"invalid_grant\"}");
        return;
      }
      issuedFederatedToken = "federated-" + System.nanoTime();
      JsonObject answer = new JsonObject();
      answer.addProperty("access_token", issuedFederatedToken);
      answer.addProperty("issued_token_type", "urn:ietf:params:oauth:token-type:access_token");
      answer.addProperty("token_type", "Bearer");
      answer.addProperty("expires_in", 3600);
      FormHttp.send(exchange, 200, answer.toString());
    }
  }

  /** IAM credentials: generateIdToken for a bearer of the federated token; nothing else. */
  private void iam(HttpExchange exchange) throws IOException {
    try (exchange) {
      Matcher path = IAM_PATH.matcher(exchange.getRequestURI().getPath());
      if (!path.matches()) {
        FormHttp.send(exchange, 404, "{}");
        return;
      }
      synchronized (calls) {
        calls.add(path.group(2) + " " + path.group(1));
      }
      String bearer = exchange.getRequestHeaders().getFirst("Authorization");
      if (!path.group(2).equals("generateIdToken")
          || issuedFederatedToken == null
          || !("Bearer " + issuedFederatedToken).equals(bearer)) {
        FormHttp.send(exchange, 401, "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\"}}");
        return;
      }
      idTokenRequest =
          JsonParser.parseString(
                  new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8))
              .getAsJsonObject();
      if (idTokenStatus != 200) {
        FormHttp.send(
            exchange,
            idTokenStatus,
            "{\"error\":{\"code\":403,\"message\":\"Permission 'iam.serviceAccounts.getOpenIdToken'"
                + " denied\",\"status\":\"PERMISSION_DENIED\"}}");
        return;
      }
      JsonObject answer = new JsonObject();
      answer.addProperty(
          "token", issuer.mint(path.group(1), idTokenRequest.get("audience").getAsString()));
      FormHttp.send(exchange, 200, answer.toString());
    }
  }
}
