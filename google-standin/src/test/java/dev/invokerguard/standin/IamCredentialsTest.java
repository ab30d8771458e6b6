package dev.invokerguard.standin;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import java.net.URI;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * IAM Credentials as {@code gcloud auth print-identity-token --impersonate-service-account} uses it
 * (the smoke test's journeys exercise it only through gcloud).
 */
class IamCredentialsTest {
  private static final String DEPLOYER = "deployer@host-project.iam.gserviceaccount.com";
  private static final String ALICE = "alice-api@client-one.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://invoker-guard-abc-ew.a.run.app";

  private final MutableClock clock = MutableClock.of(Instant.parse("2030-01-01T00:00:00.250Z"));
  private TestIssuer issuer;
  private IamServiceAccounts iam;
  private IamCredentials credentials;

  @BeforeEach
  void setUp() {
    issuer = TestIssuer.start();
    iam =
        new IamServiceAccounts(
            () -> URI.create("http://127.0.0.1:1/"), new HashMap<>(), clock, "host-project");
    iam.addProject("client-one");
    iam.route(post("/v1/projects/client-one/serviceAccounts", "{\"accountId\":\"alice-api\"}"));
    credentials = new IamCredentials(iam, issuer, clock, email -> "ya29.for-" + email);
  }

  @AfterEach
  void tearDown() {
    issuer.close();
  }

  private static GoogleStandIn.Request post(String path, String body) {
    return new GoogleStandIn.Request(Instant.EPOCH, "POST", "iam", path, null, body, "127.0.0.1:1");
  }

  private JsonObject generate(String verb, String caller, String body) {
    return credentials.route(
        post("/v1/projects/-/serviceAccounts/" + ALICE + ":" + verb, body), caller);
  }

  private void grantTokenCreator(String member) {
    iam.route(
        post(
            "/v1/projects/client-one/serviceAccounts/" + ALICE + ":setIamPolicy",
            "{\"policy\":{\"bindings\":[{\"role\":\"roles/iam.serviceAccountTokenCreator\","
                + "\"members\":[\""
                + member
                + "\"]}]}}"));
  }

  @Test
  void withoutTokenCreator_bothCallsAre403_withGooglesPermissionName() {
    ApiException access =
        assertThrows(ApiException.class, () -> generate("generateAccessToken", DEPLOYER, "{}"));
    ApiException id =
        assertThrows(
            ApiException.class,
            () -> generate("generateIdToken", DEPLOYER, "{\"audience\":\"" + AUDIENCE + "\"}"));

    assertThat(access.code).isEqualTo(403);
    assertThat(access).hasMessageThat().contains("iam.serviceAccounts.getAccessToken");
    assertThat(id.code).isEqualTo(403);
    assertThat(id).hasMessageThat().contains("iam.serviceAccounts.getOpenIdToken");
  }

  @Test
  void withTokenCreator_idTokenIsTheIssuersForTheAudience_andAccessTokenExpiresOnAWholeSecond()
      throws Exception {
    grantTokenCreator("serviceAccount:" + DEPLOYER);

    JsonObject access = generate("generateAccessToken", DEPLOYER, "{\"scope\":[\"x\"]}");
    JsonObject id =
        generate(
            "generateIdToken",
            DEPLOYER,
            "{\"audience\":\"" + AUDIENCE + "\",\"includeEmail\":true}");

    assertThat(access.get("accessToken").getAsString()).isEqualTo("ya29.for-" + ALICE);
    assertThat(access.get("expireTime").getAsString()).isEqualTo("2030-01-01T01:00:00Z");
    assertThat(
            IdTokens.verifiedEmail(
                id.get("token").getAsString(), issuer, List.of(AUDIENCE), Instant.now()))
        .hasValue(ALICE);
    assertThat(
            IdTokens.verifiedEmail(
                id.get("token").getAsString(), issuer, List.of("https://other"), Instant.now()))
        .isEmpty();
  }

  @Test
  void idToken_withoutAudience_is400_unknownAccount_is403() {
    grantTokenCreator("serviceAccount:" + DEPLOYER);
    ApiException noAudience =
        assertThrows(ApiException.class, () -> generate("generateIdToken", DEPLOYER, "{}"));
    assertThat(noAudience.code).isEqualTo(400);

    ApiException unknown =
        assertThrows(
            ApiException.class,
            () ->
                credentials.route(
                    post(
                        "/v1/projects/-/serviceAccounts/ghost@client-one.iam.gserviceaccount.com"
                            + ":generateIdToken",
                        "{\"audience\":\"" + AUDIENCE + "\"}"),
                    DEPLOYER));
    assertThat(unknown.code).isEqualTo(403);
  }

  @Test
  void theAccountItself_needsNoGrant() {
    JsonObject id = generate("generateIdToken", ALICE, "{\"audience\":\"" + AUDIENCE + "\"}");
    assertThat(id.get("token").getAsString()).isNotEmpty();
  }
}
