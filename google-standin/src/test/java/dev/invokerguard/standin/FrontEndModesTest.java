package dev.invokerguard.standin;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.TestIssuer;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What the function receives in each credential header behind the front end, in each {@link
 * FrontEndMode}: real ID tokens from the stand-in's issuer, a real front end on loopback, and a
 * backend that echoes the headers it got ({@link HeaderEcho}).
 */
class FrontEndModesTest {
  private static final String REGION = "europe-west1";
  private static final String CALLER = "caller@client-project.iam.gserviceaccount.com";
  private static final String STRANGER = "stranger@client-project.iam.gserviceaccount.com";

  @TempDir Path temp;
  private TestIssuer issuer;
  private GoogleStandIn google;
  private DeployedFunction function;
  private HeaderEcho backend;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void startIssuerAndBackend() {
    issuer = TestIssuer.start();
    backend = new HeaderEcho();
  }

  @AfterEach
  void stopAll() {
    if (google != null) {
      google.close();
    }
    backend.close();
    issuer.close();
  }

  /** A stand-in in {@code mode} with one 2nd gen function whose invoker is CALLER. */
  private void start(FrontEndMode mode) {
    google =
        GoogleStandIn.builder()
            .issuer(issuer)
            .project("host-project")
            .workDir(temp)
            .frontEndMode(mode)
            .start();
    function = google.addIdleFunction(REGION, "invoker-guard", 2);
    function.serveWith(backend.port());
    function
        .policy()
        .set(
            JsonParser.parseString(
                    "{\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":[\"serviceAccount:"
                        + CALLER
                        + "\"]}]}")
                .getAsJsonObject());
  }

  private String token(String email) {
    return issuer.mint(email, function.runUrl());
  }

  /** A call with the given Authorization and X-Serverless-Authorization values (null: absent). */
  private HttpResponse<String> call(String authorization, String serverless) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(function.frontEnd()).timeout(Duration.ofSeconds(30));
    if (authorization != null) {
      request.header("Authorization", authorization);
    }
    if (serverless != null) {
      request.header("X-Serverless-Authorization", serverless);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String stripped(String token) {
    return token.substring(0, token.lastIndexOf('.') + 1) + "SIGNATURE_REMOVED_BY_GOOGLE";
  }

  /** What anyone can write: claims naming CALLER, no signature, as if Google had removed it. */
  private String forgedStrippedToken() {
    return issuer
        .token()
        .email(CALLER)
        .audience(function.runUrl())
        .signature("SIGNATURE_REMOVED_BY_GOOGLE")
        .build();
  }

  // --- what every mode does while the invoker IAM check is on --------------------------------

  @ParameterizedTest
  @EnumSource(
      value = FrontEndMode.class,
      names = {"STRIP_SERVERLESS_ONLY", "STRIP_JUDGED"})
  void checkOn_noToken_forgedToken_orStranger_neverReachTheFunction(FrontEndMode mode)
      throws Exception {
    start(mode);

    assertThat(call(null, null).statusCode()).isEqualTo(401);
    assertThat(call(null, "Bearer " + forgedStrippedToken()).statusCode()).isEqualTo(401);
    assertThat(call("Bearer " + forgedStrippedToken(), null).statusCode()).isEqualTo(401);
    assertThat(call("Bearer " + token(STRANGER), null).statusCode()).isEqualTo(403);
    // With both headers only X-Serverless-Authorization is judged: a valid Authorization does not
    // help a bad one.
    assertThat(call("Bearer " + token(CALLER), "Bearer " + forgedStrippedToken()).statusCode())
        .isEqualTo(401);
    assertThat(function.forwardedCount()).isEqualTo(0);
  }

  @ParameterizedTest
  @EnumSource(
      value = FrontEndMode.class,
      names = {"STRIP_SERVERLESS_ONLY", "STRIP_JUDGED"})
  void checkOn_bothHeaders_serverlessArrivesStripped_authorizationIntact(FrontEndMode mode)
      throws Exception {
    start(mode);
    String token = token(CALLER);

    HttpResponse<String> response = call("Bearer " + token, "Bearer " + token);

    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject seen = HeaderEcho.seen(response);
    assertThat(seen.get("X-Serverless-Authorization").getAsString())
        .isEqualTo("Bearer " + stripped(token));
    assertThat(seen.get("Authorization").getAsString()).isEqualTo("Bearer " + token);
  }

  // --- A and B differ on Authorization alone --------------------------------------------------

  @Test
  void stripServerlessOnly_authorizationAlone_arrivesIntact() throws Exception {
    start(FrontEndMode.STRIP_SERVERLESS_ONLY);
    String token = token(CALLER);

    HttpResponse<String> response = call("Bearer " + token, null);

    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject seen = HeaderEcho.seen(response);
    assertThat(seen.get("Authorization").getAsString()).isEqualTo("Bearer " + token);
    assertThat(seen.has("X-Serverless-Authorization")).isFalse();
  }

  @Test
  void stripJudged_authorizationAlone_arrivesStripped() throws Exception {
    start(FrontEndMode.STRIP_JUDGED);
    String token = token(CALLER);

    HttpResponse<String> response = call("Bearer " + token, null);

    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject seen = HeaderEcho.seen(response);
    assertThat(seen.get("Authorization").getAsString()).isEqualTo("Bearer " + stripped(token));
    assertThat(seen.has("X-Serverless-Authorization")).isFalse();
  }

  @Test
  void stripServerlessOnly_serverlessAlone_arrivesStripped() throws Exception {
    start(FrontEndMode.STRIP_SERVERLESS_ONLY);
    String token = token(CALLER);

    HttpResponse<String> response = call(null, "Bearer " + token);

    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject seen = HeaderEcho.seen(response);
    assertThat(seen.get("X-Serverless-Authorization").getAsString())
        .isEqualTo("Bearer " + stripped(token));
    assertThat(seen.has("Authorization")).isFalse();
  }

  // --- C: the invoker IAM check off ------------------------------------------------------------

  @Test
  void invokerCheckOff_forwardsEveryRequestUnjudged_headersAsSent() throws Exception {
    start(FrontEndMode.INVOKER_CHECK_OFF);
    String forged = "Bearer " + forgedStrippedToken();
    String stranger = "Bearer " + token(STRANGER);

    HttpResponse<String> noToken = call(null, null);
    HttpResponse<String> forgedAlone = call(null, forged);
    HttpResponse<String> strangerAndForged = call(stranger, forged);

    assertThat(function.invokerIamCheck()).isFalse();
    assertThat(noToken.statusCode()).isEqualTo(200);
    assertThat(HeaderEcho.seen(noToken).size()).isEqualTo(0);
    assertThat(forgedAlone.statusCode()).isEqualTo(200);
    assertThat(HeaderEcho.seen(forgedAlone).get("X-Serverless-Authorization").getAsString())
        .isEqualTo(forged);
    assertThat(strangerAndForged.statusCode()).isEqualTo(200);
    assertThat(HeaderEcho.seen(strangerAndForged).get("Authorization").getAsString())
        .isEqualTo(stranger);
    assertThat(function.frontEndLog())
        .containsExactly(
            "forwarded forwarded unjudged (invoker IAM check off)",
            "forwarded forwarded unjudged (invoker IAM check off)",
            "forwarded forwarded unjudged (invoker IAM check off)");
  }

  @Test
  void invokerCheckOff_switchedBackOn_judgesAgain_asStripServerlessOnly() throws Exception {
    start(FrontEndMode.INVOKER_CHECK_OFF);
    function.invokerIamDisabledAnnotation("False");
    String token = token(CALLER);

    HttpResponse<String> noToken = call(null, null);
    HttpResponse<String> authorizationAlone = call("Bearer " + token, null);

    assertThat(function.invokerIamCheck()).isTrue();
    assertThat(noToken.statusCode()).isEqualTo(401);
    assertThat(HeaderEcho.seen(authorizationAlone).get("Authorization").getAsString())
        .isEqualTo("Bearer " + token);
  }

  @Test
  void firstGen_hasNoInvokerCheckSetting_evenInModeC() {
    start(FrontEndMode.INVOKER_CHECK_OFF);
    DeployedFunction firstGen = google.addIdleFunction(REGION, "first-gen", 1);

    assertThat(firstGen.invokerIamCheck()).isTrue();
  }
}
