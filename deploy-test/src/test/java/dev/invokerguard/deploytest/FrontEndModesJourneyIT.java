package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.standin.DeployedFunction;
import dev.invokerguard.standin.FrontEndMode;
import dev.invokerguard.standin.Gcloud;
import dev.invokerguard.standin.GoogleStandIn;
import dev.invokerguard.testing.TestIssuer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guard behind each plausible behaviour of Google's front end ({@link FrontEndMode}), deployed
 * with the real gcloud by {@code deploy.sh --allow ALICE} (2nd gen, trust mode off), then called
 * through the front end with real tokens from the local issuer: (i) the token in both headers, (ii)
 * in {@code Authorization} only, (iii) a forged token whose signature part is {@code
 * SIGNATURE_REMOVED_BY_GOOGLE}, as anyone can write one, and no token at all.
 *
 * <p>In mode C deploy.sh switches the service's invoker IAM check back on (issue 21 item 3), and
 * refuses or repairs trust mode behind it.
 */
class FrontEndModesJourneyIT {
  private static final String PROJECT = "host-project";
  private static final String REGION = "europe-west1";
  private static final String NAME = "invoker-guard";
  private static final String DEPLOYER = "deployer@host-project.iam.gserviceaccount.com";
  private static final String ALICE = "alice-api@client-one.iam.gserviceaccount.com";

  /** One deployment in one mode, shared by the checks of that mode. */
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
  abstract static class InMode {
    OfflineGoogle offline;
    TestIssuer issuer;
    GoogleStandIn google;
    DeployedFunction function;

    abstract FrontEndMode mode();

    @BeforeAll
    void deploy(@TempDir Path temp) throws Exception {
      Path dir = Files.createDirectories(temp.resolve(mode().name()));
      offline =
          OfflineGoogle.start(
              dir,
              mode(),
              PROJECT,
              DEPLOYER,
              Optional.of("journey-FrontEndModesJourneyIT-" + mode() + ".log"));
      issuer = offline.issuer();
      google = offline.google();
      offline.ok(offline.deploy(PROJECT, REGION, NAME, Map.of(), "--allow", ALICE));
      function = google.function(REGION, NAME);
    }

    @AfterEach
    void everyRequestStayedOnLoopback() {
      if (offline != null) {
        offline.assertOnlyKnownLoopbackRequests(REGION);
      }
    }

    @AfterAll
    void stop() throws Exception {
      if (offline != null) {
        offline.close();
      }
    }

    String token() {
      List<String> audiences = function.audiences();
      return issuer.mint(ALICE, audiences.get(audiences.size() - 1));
    }

    String forgedStrippedToken() {
      List<String> audiences = function.audiences();
      return issuer
          .token()
          .email(ALICE)
          .audience(audiences.get(audiences.size() - 1))
          .signature("SIGNATURE_REMOVED_BY_GOOGLE")
          .build();
    }

    HttpResponse<String> call(String authorization, String serverless) throws Exception {
      Map<String, String> headers = new LinkedHashMap<>();
      if (authorization != null) {
        headers.put("Authorization", "Bearer " + authorization);
      }
      if (serverless != null) {
        headers.put("X-Serverless-Authorization", "Bearer " + serverless);
      }
      return offline.call(function, headers);
    }

    /** Fails unless {@code response} has {@code status}, showing what the front end did. */
    void expect(HttpResponse<String> response, int status) {
      assertWithMessage(
              "%s %s\n--- front end\n%s\n--- instance\n%s",
              response.statusCode(),
              response.body(),
              String.join("\n", function.frontEndLog()),
              function.instanceLogs())
          .that(response.statusCode())
          .isEqualTo(status);
    }

    /** Whether the guard (JSON) rather than Google's front end (HTML) answered. */
    static boolean answeredByTheGuard(HttpResponse<String> response) {
      return response.headers().firstValue("Content-Type").orElse("").contains("json");
    }
  }

  /** A: only a judged X-Serverless-Authorization is stripped (the behaviour documented today). */
  @Nested
  class StripServerlessOnly extends InMode {
    @Override
    FrontEndMode mode() {
      return FrontEndMode.STRIP_SERVERLESS_ONLY;
    }

    @Test
    void authorizationOnly_arrivesIntact_200() throws Exception {
      expect(call(token(), null), 200);
    }

    @Test
    void forgedStrippedToken_isGoogles401() throws Exception {
      HttpResponse<String> response = call(null, forgedStrippedToken());
      expect(response, 401);
      assertWithMessage("answered by Google").that(answeredByTheGuard(response)).isFalse();
    }

    @Test
    void bothHeaders_200() throws Exception {
      expect(call(token(), token()), 200);
    }

    @Test
    @Order(Integer.MAX_VALUE) // last: it redeploys
    void redeploy_revokesPublicAccessUnderAnyRole_andEveryInvokingRoleOffTheAllowlist()
        throws Exception {
      // Grants made by hand with the real gcloud, behind deploy.sh's back (issue 21 item 4).
      grant("roles/run.servicesInvoker", "allUsers");
      grant("roles/run.admin", "user:boss@example.com");
      grant("roles/run.viewer", "user:auditor@example.com");

      Gcloud.Result result = offline.deploy(PROJECT, REGION, NAME, Map.of(), "--allow", ALICE);

      offline.ok(result);
      Gcloud.Result policy =
          offline
              .gcloud()
              .gcloud(
                  "run",
                  "services",
                  "get-iam-policy",
                  function.id(),
                  "--region=" + REGION,
                  "--project=" + PROJECT,
                  "--format=json");
      offline.ok(policy);
      assertWithMessage("%s", result)
          .that(result.stderr())
          .contains("PUBLIC ACCESS: allUsers holds roles/run.servicesInvoker");
      assertWithMessage("%s", policy).that(policy.stdout()).doesNotContain("allUsers");
      assertWithMessage("%s", policy).that(policy.stdout()).doesNotContain("boss@example.com");
      assertWithMessage("%s", policy).that(policy.stdout()).contains("auditor@example.com");
      expect(call(null, null), 401);
      expect(call(token(), token()), 200);
    }

    private void grant(String role, String member) throws Exception {
      offline.ok(
          offline
              .gcloud()
              .gcloud(
                  "run",
                  "services",
                  "add-iam-policy-binding",
                  function.id(),
                  "--region=" + REGION,
                  "--project=" + PROJECT,
                  "--role=" + role,
                  "--member=" + member,
                  "--quiet"));
    }
  }

  /** B: whatever the front end judged is stripped, Authorization too when sent alone. */
  @Nested
  class StripJudged extends InMode {
    @Override
    FrontEndMode mode() {
      return FrontEndMode.STRIP_JUDGED;
    }

    @Test
    void authorizationOnly_arrivesStripped_theGuardRefusesIt_401() throws Exception {
      // Trust mode is off: a token without its signature proves nothing. Hence clients send both.
      HttpResponse<String> response = call(token(), null);
      expect(response, 401);
      assertWithMessage("answered by the guard").that(answeredByTheGuard(response)).isTrue();
    }

    @Test
    void forgedStrippedToken_isGoogles401() throws Exception {
      HttpResponse<String> response = call(null, forgedStrippedToken());
      expect(response, 401);
      assertWithMessage("answered by Google").that(answeredByTheGuard(response)).isFalse();
    }

    @Test
    void bothHeaders_200() throws Exception {
      expect(call(token(), token()), 200);
    }
  }

  /** C: the service's invoker IAM check is off: Google forwards everything unjudged. */
  @Nested
  class InvokerCheckOff extends InMode {
    @Override
    FrontEndMode mode() {
      return FrontEndMode.INVOKER_CHECK_OFF;
    }

    @Test
    void forgedStrippedToken_isDenied_trustModeOff() throws Exception {
      // Denied by the guard while the check is off, by Google once deploy.sh switches it on.
      expect(call(null, forgedStrippedToken()), 401);
      expect(call(forgedStrippedToken(), forgedStrippedToken()), 401);
    }

    @Test
    void noToken_isDenied() throws Exception {
      expect(call(null, null), 401);
    }

    @Test
    void authorizationOnly_200() throws Exception {
      expect(call(token(), null), 200);
    }

    @Test
    void bothHeaders_200() throws Exception {
      // Intact while the check is off; with it on (item 3) this needs the doubled header (item 1).
      expect(call(token(), token()), 200);
    }

    @Test
    void deploy_switchedTheCheckBackOn() {
      assertWithMessage("invoker IAM check after deploy.sh")
          .that(function.invokerIamCheck())
          .isTrue();
    }

    @Test
    @Order(Integer.MAX_VALUE) // last: a refused or failed deploy leaves the configuration changed
    void trustMode_withTheCheckOff_isRefusedOrRepaired() throws Exception {
      // deploy.sh either refuses TRUST_PLATFORM_VERIFIED_TOKENS=true while the check is off,
      // naming the check, or switches the check on first; never leaves trust mode on behind a
      // front end that judges nothing. (The guard itself cannot start in trust mode here: the
      // stand-in sets no K_SERVICE, see deploy-test/README.md. So a failed deploy alone proves
      // nothing.)
      Gcloud.Result result =
          offline.deploy(
              PROJECT,
              REGION,
              NAME,
              Map.of(),
              "--allow",
              ALICE,
              "--trust-platform-verified-tokens",
              "true");
      boolean refusedNamingTheCheck =
          result.exitCode() != 0
              && Pattern.compile("(?i)invoker[ -]iam[ -]check")
                  .matcher(result.stdout() + result.stderr())
                  .find();
      assertWithMessage("%s", result)
          .that(refusedNamingTheCheck || function.invokerIamCheck())
          .isTrue();
    }
  }
}
