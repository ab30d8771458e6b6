package dev.invokerguard.client;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.api.client.http.GenericUrl;
import com.google.api.client.http.HttpHeaders;
import com.google.api.client.http.HttpRequest;
import com.google.api.client.http.HttpResponseException;
import com.google.api.client.http.javanet.NetHttpTransport;
import com.google.auth.oauth2.IdTokenProvider;
import com.google.auth.oauth2.ImpersonatedCredentials;
import com.google.auth.oauth2.ServiceAccountCredentials;
import com.google.auth.oauth2.UserCredentials;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class IdTokenAuthenticatorTest {

  private static final String ACCOUNT = "caller@proj-1.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://europe-west1-proj-1.cloudfunctions.net/fn";

  private static TestIssuer issuer;

  @BeforeAll
  static void startIssuer() {
    issuer = TestIssuer.start();
  }

  @AfterAll
  static void stopIssuer() {
    issuer.close();
  }

  private final FakeTime time = new FakeTime();

  private IdTokenAuthenticator.Builder metadataBacked(ScriptedCredentials credentials) {
    return IdTokenAuthenticator.builder()
        .audience(AUDIENCE)
        .credentials(credentials, CredentialSource.METADATA_SERVER)
        .clock(time.clock)
        .sleeper(time)
        .environment(name -> null);
  }

  private static IOException status(int code) {
    // The shape ComputeEngineCredentials gives every status but 503.
    return new IOException(
        "Unexpected Error code " + code + " trying to get identity token from Compute Engine");
  }

  @Test
  void build_withoutAudience_refused() {
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> IdTokenAuthenticator.builder().build());
    assertThat(e).hasMessageThat().contains("audience is required");
  }

  @Test
  void build_audienceWithWhitespace_refused() {
    assertThrows(
        IllegalStateException.class, () -> IdTokenAuthenticator.forAudience("https://a b"));
    assertThrows(IllegalStateException.class, () -> IdTokenAuthenticator.forAudience(""));
  }

  @Test
  void build_deadlineOutOfRange_refused() {
    assertThrows(
        IllegalStateException.class,
        () ->
            IdTokenAuthenticator.builder()
                .audience(AUDIENCE)
                .retryDeadline(Duration.ofHours(1))
                .build());
    assertThrows(
        IllegalStateException.class,
        () ->
            IdTokenAuthenticator.builder()
                .audience(AUDIENCE)
                .retryDeadline(Duration.ofSeconds(-1))
                .build());
  }

  @Test
  void authorizationHeaderValue_asksForFullFormatAndEmail_forTheAudience() throws Exception {
    String token = issuer.mint(ACCOUNT, AUDIENCE);
    ScriptedCredentials credentials = new ScriptedCredentials().thenToken(token);

    String header = metadataBacked(credentials).build().authorizationHeaderValue();

    assertThat(header).isEqualTo("Bearer " + token);
    assertThat(credentials.audiences()).containsExactly(AUDIENCE);
    assertThat(credentials.lastOptions())
        .containsExactly(IdTokenProvider.Option.FORMAT_FULL, IdTokenProvider.Option.INCLUDE_EMAIL);
  }

  @Test
  void authorizationHeaderValue_manyCallsFromManyThreads_fetchOnce() throws Exception {
    ScriptedCredentials credentials =
        new ScriptedCredentials().thenToken(issuer.mint(ACCOUNT, AUDIENCE));
    IdTokenAuthenticator auth = metadataBacked(credentials).build();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<String>> results = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        results.add(pool.submit(auth::authorizationHeaderValue));
      }
      for (Future<String> result : results) {
        assertThat(result.get()).startsWith("Bearer ey");
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(credentials.calls()).isEqualTo(1);
  }

  @Test
  void authorizationHeaderValue_tokenAboutToExpire_fetchesANewOne() throws Exception {
    // google-auth-library refreshes ahead of expiry: a token with 2 minutes left is not served.
    String shortLived =
        issuer
            .token()
            .email(ACCOUNT)
            .audience(AUDIENCE)
            .expiresAt(java.time.Instant.now().plus(Duration.ofMinutes(2)))
            .build();
    String fresh = issuer.mint(ACCOUNT, AUDIENCE);
    ScriptedCredentials credentials =
        new ScriptedCredentials().thenToken(shortLived).thenToken(fresh);
    IdTokenAuthenticator auth = metadataBacked(credentials).build();

    auth.authorizationHeaderValue();
    String second = auth.authorizationHeaderValue();

    assertThat(second).isEqualTo("Bearer " + fresh);
    assertThat(credentials.calls()).isEqualTo(2);
  }

  @Test
  void metadataServer_transientFailures_retriedWithGrowingBackoffThenSucceeds() throws Exception {
    String token = issuer.mint(ACCOUNT, AUDIENCE);
    ScriptedCredentials credentials =
        new ScriptedCredentials()
            .thenFail(new ConnectException("Connection refused"))
            .thenFail(status(429))
            .thenFail(status(500))
            .thenFail(
                new IOException(
                    new HttpResponseException.Builder(503, "Unavailable", new HttpHeaders())
                        .build()))
            .thenToken(token);

    String header = metadataBacked(credentials).build().authorizationHeaderValue();

    assertThat(header).isEqualTo("Bearer " + token);
    assertThat(credentials.calls()).isEqualTo(5);
    List<Duration> waits = time.waits();
    assertThat(waits).hasSize(4);
    for (int i = 1; i < waits.size(); i++) {
      // 200 ms doubling, with 20 % jitter: each wait is clearly longer than the one before.
      assertThat(waits.get(i)).isGreaterThan(waits.get(i - 1));
    }
    assertThat(waits.get(0)).isAtLeast(Duration.ofMillis(160));
    assertThat(waits.get(0)).isAtMost(Duration.ofMillis(240));
  }

  @Test
  void metadataServer_failingPastDeadline_givesUpNamingSourceAndAttempts() {
    ScriptedCredentials credentials = new ScriptedCredentials().thenFail(100, status(503));
    IdTokenAuthenticator auth =
        metadataBacked(credentials).retryDeadline(Duration.ofSeconds(10)).build();

    IdTokenException e = assertThrows(IdTokenException.class, auth::authorizationHeaderValue);

    assertThat(e.source()).isEqualTo(CredentialSource.METADATA_SERVER);
    assertThat(e).hasMessageThat().contains("from the metadata server at http://");
    assertThat(e).hasMessageThat().contains("attempts");
    assertThat(e).hasMessageThat().contains("retry deadline 10000 ms");
    assertThat(e).hasMessageThat().contains("Error code 503");
    assertThat(e).hasMessageThat().contains("To fix: on GKE, check Workload Identity");
    Duration waited = time.waits().stream().reduce(Duration.ZERO, Duration::plus);
    assertThat(waited).isEqualTo(Duration.ofSeconds(10));
    assertThat(credentials.calls()).isLessThan(20);
  }

  @Test
  void metadataServer_zeroDeadline_triesOnce() {
    ScriptedCredentials credentials = new ScriptedCredentials().thenFail(5, status(503));
    IdTokenAuthenticator auth = metadataBacked(credentials).retryDeadline(Duration.ZERO).build();

    assertThrows(IdTokenException.class, auth::authorizationHeaderValue);

    assertThat(credentials.calls()).isEqualTo(1);
    assertThat(time.waits()).isEmpty();
  }

  @Test
  void metadataServer_permanentFailure_notRetried() {
    ScriptedCredentials credentials = new ScriptedCredentials().thenFail(5, status(404));
    IdTokenAuthenticator auth = metadataBacked(credentials).build();

    IdTokenException e = assertThrows(IdTokenException.class, auth::authorizationHeaderValue);

    assertThat(credentials.calls()).isEqualTo(1);
    assertThat(e).hasMessageThat().contains("Error code 404");
  }

  @Test
  void keyFile_transientFailure_retriedToo() throws Exception {
    String token = issuer.mint(ACCOUNT, AUDIENCE);
    ScriptedCredentials credentials =
        new ScriptedCredentials().thenFail(2, status(503)).thenToken(token);
    IdTokenAuthenticator auth =
        IdTokenAuthenticator.builder()
            .audience(AUDIENCE)
            .credentials(credentials, CredentialSource.KEY_FILE)
            .sleeper(time)
            .clock(time.clock)
            .build();

    assertThat(auth.authorizationHeaderValue()).isEqualTo("Bearer " + token);
    assertThat(credentials.calls()).isEqualTo(3);
  }

  @Test
  void keyFile_permanentFailure_namesTheFile() {
    ScriptedCredentials credentials = new ScriptedCredentials().thenFail(5, status(400));
    IdTokenAuthenticator auth =
        IdTokenAuthenticator.builder()
            .audience(AUDIENCE)
            .credentials(credentials, CredentialSource.KEY_FILE)
            .sleeper(time)
            .clock(time.clock)
            .environment(
                name -> name.equals("GOOGLE_APPLICATION_CREDENTIALS") ? "/keys/sa.json" : null)
            .build();

    IdTokenException e = assertThrows(IdTokenException.class, auth::authorizationHeaderValue);

    assertThat(credentials.calls()).isEqualTo(1);
    assertThat(e.source()).isEqualTo(CredentialSource.KEY_FILE);
    assertThat(e)
        .hasMessageThat()
        .contains(
            "from the credentials file named by GOOGLE_APPLICATION_CREDENTIALS at /keys/sa.json");
  }

  @Test
  void noCredentials_failsAsNoneFound_withWhatToSet() {
    IdTokenAuthenticator auth =
        IdTokenAuthenticator.builder()
            .audience(AUDIENCE)
            .credentialsLoader(
                () -> {
                  throw new IOException("The Application Default Credentials are not available.");
                })
            .environment(name -> null)
            .build();

    IdTokenException e = assertThrows(IdTokenException.class, auth::authorizationHeaderValue);

    assertThat(e.source()).isEqualTo(CredentialSource.NONE_FOUND);
    assertThat(e).hasMessageThat().contains("none were found");
    assertThat(e).hasMessageThat().contains("set GOOGLE_APPLICATION_CREDENTIALS");
  }

  @Test
  void unreadableKeyFile_failsNamingTheFile() {
    IdTokenAuthenticator auth =
        IdTokenAuthenticator.builder()
            .audience(AUDIENCE)
            .credentialsLoader(
                () -> {
                  throw new IOException("Error reading credential file: File does not exist.");
                })
            .environment(
                name -> name.equals("GOOGLE_APPLICATION_CREDENTIALS") ? "/nope.json" : null)
            .build();

    IdTokenException e = assertThrows(IdTokenException.class, auth::credentialSource);

    assertThat(e.source()).isEqualTo(CredentialSource.KEY_FILE);
    assertThat(e).hasMessageThat().contains("/nope.json");
    assertThat(e).hasMessageThat().contains("File does not exist");
  }

  @Test
  void endUserLogin_refusedAsUnsupported_suggestingImpersonation() {
    UserCredentials user =
        UserCredentials.newBuilder()
            .setClientId("client-id.apps.googleusercontent.com")
            .setClientSecret("not-a-secret")
            .setRefreshToken("not-a-refresh-token")
            .build();
    IdTokenAuthenticator auth =
        IdTokenAuthenticator.builder().audience(AUDIENCE).credentials(user).build();

    IdTokenException e = assertThrows(IdTokenException.class, auth::authorizationHeaderValue);

    assertThat(e.source()).isEqualTo(CredentialSource.UNSUPPORTED);
    assertThat(e).hasMessageThat().contains("UserCredentials");
    assertThat(e).hasMessageThat().contains("--impersonate-service-account");
  }

  @Test
  void failureMessage_neverContainsAToken() {
    String token = issuer.mint(ACCOUNT, AUDIENCE);
    ScriptedCredentials credentials =
        new ScriptedCredentials().thenFail(new IOException("server said: " + token + " oops"));
    IdTokenAuthenticator auth = metadataBacked(credentials).build();

    IdTokenException e = assertThrows(IdTokenException.class, auth::authorizationHeaderValue);

    assertThat(e).hasMessageThat().doesNotContain(token.substring(0, 40));
    assertThat(e).hasMessageThat().contains("[token removed]");
  }

  @Test
  void authorize_setsTheTokenInBothHeadersOnJavaNetHttpRequest() throws Exception {
    String token = issuer.mint(ACCOUNT, AUDIENCE);
    IdTokenAuthenticator auth = metadataBacked(new ScriptedCredentials().thenToken(token)).build();

    java.net.http.HttpRequest request =
        auth.authorize(
                java.net.http.HttpRequest.newBuilder(URI.create(AUDIENCE))
                    .header("X-Serverless-Authorization", "Bearer stale"))
            .build();

    assertThat(request.headers().allValues("Authorization")).containsExactly("Bearer " + token);
    assertThat(request.headers().allValues("X-Serverless-Authorization"))
        .containsExactly("Bearer " + token);
  }

  @Test
  void authorize_authorizationHeaderOnly_setsNoServerlessHeader() throws Exception {
    String token = issuer.mint(ACCOUNT, AUDIENCE);
    IdTokenAuthenticator auth =
        metadataBacked(new ScriptedCredentials().thenToken(token))
            .authorizationHeaderOnly()
            .build();

    java.net.http.HttpRequest request =
        auth.authorize(java.net.http.HttpRequest.newBuilder(URI.create(AUDIENCE))).build();

    assertThat(request.headers().allValues("Authorization")).containsExactly("Bearer " + token);
    assertThat(request.headers().firstValue("X-Serverless-Authorization")).isEmpty();
    assertThat(auth.headerNames()).containsExactly("Authorization");
    assertThat(auth.requestHeaders()).containsExactly("Authorization", "Bearer " + token);
  }

  @Test
  void requestHeaders_bothNamesOneTokenFetchedOnce() throws Exception {
    String token = issuer.mint(ACCOUNT, AUDIENCE);
    ScriptedCredentials credentials = new ScriptedCredentials().thenToken(token);
    IdTokenAuthenticator auth = metadataBacked(credentials).build();

    assertThat(auth.requestHeaders())
        .containsExactly(
            "Authorization", "Bearer " + token, "X-Serverless-Authorization", "Bearer " + token)
        .inOrder();
    assertThat(credentials.calls()).isEqualTo(1);
  }

  @Test
  void httpRequestInitializer_setsTheTokenInBothHeadersOnGoogleHttpClientRequest()
      throws Exception {
    String token = issuer.mint(ACCOUNT, AUDIENCE);
    IdTokenAuthenticator auth = metadataBacked(new ScriptedCredentials().thenToken(token)).build();

    HttpRequest request =
        new NetHttpTransport()
            .createRequestFactory(auth.httpRequestInitializer())
            .buildGetRequest(new GenericUrl(AUDIENCE));

    assertThat(request.getHeaders().getAuthorization()).isEqualTo("Bearer " + token);
    assertThat(request.getHeaders().getFirstHeaderStringValue("X-Serverless-Authorization"))
        .isEqualTo("Bearer " + token);
  }

  /** The headers as a real server receives them, over loopback, from both HTTP clients. */
  @Test
  void bothClients_overLoopback_serverReceivesTheSameTokenInBothHeaders() throws Exception {
    String token = issuer.mint(ACCOUNT, AUDIENCE);
    IdTokenAuthenticator auth = metadataBacked(new ScriptedCredentials().thenToken(token)).build();
    try (RecordingServer server = new RecordingServer()) {
      java.net.http.HttpClient.newHttpClient()
          .send(
              auth.authorize(java.net.http.HttpRequest.newBuilder(server.uri("/a"))).build(),
              java.net.http.HttpResponse.BodyHandlers.discarding());
      new NetHttpTransport()
          .createRequestFactory(auth.httpRequestInitializer())
          .buildGetRequest(new GenericUrl(server.uri("/b")))
          .execute()
          .disconnect();

      assertThat(server.requests()).hasSize(2);
      for (RecordingServer.Request request : server.requests()) {
        assertThat(request.authorization()).isEqualTo("Bearer " + token);
        assertThat(request.serverlessAuthorization()).isEqualTo("Bearer " + token);
      }
    }
  }

  @Test
  void sourceOf_mapsGoogleAuthCredentialTypes() throws Exception {
    assertThat(
            IdTokenAuthenticator.sourceOf(com.google.auth.oauth2.ComputeEngineCredentials.create()))
        .isEqualTo(CredentialSource.METADATA_SERVER);
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    ServiceAccountCredentials key =
        ServiceAccountCredentials.newBuilder()
            .setClientEmail(ACCOUNT)
            .setPrivateKey(generator.generateKeyPair().getPrivate())
            .build();
    assertThat(IdTokenAuthenticator.sourceOf(key)).isEqualTo(CredentialSource.KEY_FILE);
    assertThat(
            IdTokenAuthenticator.sourceOf(
                ImpersonatedCredentials.newBuilder()
                    .setSourceCredentials(key)
                    .setTargetPrincipal("target@proj-1.iam.gserviceaccount.com")
                    .setScopes(List.of())
                    .build()))
        .isEqualTo(CredentialSource.IMPERSONATION);
    assertThat(
            IdTokenAuthenticator.sourceOf(
                com.google.auth.oauth2.GoogleCredentials.create(
                    new com.google.auth.oauth2.AccessToken("x", null))))
        .isEqualTo(CredentialSource.UNSUPPORTED);
  }
}
