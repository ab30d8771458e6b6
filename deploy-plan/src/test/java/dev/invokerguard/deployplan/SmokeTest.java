package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;

/**
 * The smoke test's judgement of one attempt: who answered each call, what the guard saw of the
 * token, pass, retry or fail, and the client setting it recommends (the lines docs/DEPLOY.md
 * shows).
 */
class SmokeTest {
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String URL = "https://invoker-guard-abc123-ew.a.run.app";
  private static final String GOOGLE_401 = "{\"status\": \"401\", \"type\": \"text/html\"}";
  private static final String GOOGLE_403 =
      "{\"status\": \"403\", \"type\": \"text/html; charset=UTF-8\", \"answer\": null}";
  private static final String NO_ANSWER = "{\"status\": \"000\", \"type\": \"\"}";
  private static final String GUARD_200_BOTH =
      guard(
          "200",
          "{\"tokenHeader\": \"Authorization\", \"tokenSignature\": \"intact\","
              + " \"serverlessHeader\": \"stripped\"}");
  private static final String GUARD_200_ALONE =
      guard(
          "200",
          "{\"tokenHeader\": \"Authorization\", \"tokenSignature\": \"intact\","
              + " \"serverlessHeader\": \"absent\"}");
  private static final String GUARD_401_STRIPPED =
      guard(
          "401",
          "{\"error\": \"invalid_token\", \"reason\": \"SIGNATURE_REMOVED\", \"tokenHeader\":"
              + " \"Authorization\", \"tokenSignature\": \"stripped\", \"serverlessHeader\":"
              + " \"absent\"}");
  private static final String GUARD_401_NO_TOKEN = guard("401", "{\"error\": \"unauthorized\"}");

  private static String guard(String status, String answer) {
    return "{\"status\": \""
        + status
        + "\", \"type\": \"application/json; charset=utf-8\", \"answer\": "
        + answer
        + "}";
  }

  private static Plan attempt(int attempt, boolean last, String none, String both, String alone) {
    return attempt(
        TestOptions.of("--allow", ALICE, "--smoke-test", ALICE), attempt, last, none, both, alone);
  }

  private static Plan attempt(
      Options options, int attempt, boolean last, String none, String both, String alone) {
    JsonObject smoke = new JsonObject();
    smoke.addProperty("attempt", attempt);
    smoke.addProperty("last", last);
    smoke.add("none", JsonParser.parseString(none));
    smoke.add("both", JsonParser.parseString(both));
    smoke.add("authorization", JsonParser.parseString(alone));
    JsonObject facts = new JsonObject();
    facts.add("smoke", smoke);
    return Smoke.attempt(options, URL, Facts.of(facts));
  }

  @Test
  void googleRefusesWithoutToken_guardAnswers200_passes_authorizationAloneIntact() {
    Plan plan = attempt(1, false, GOOGLE_403, GUARD_200_BOTH, GUARD_200_ALONE);

    assertThat(plan.of("@info "))
        .containsExactly(
            "",
            "Smoke test: " + URL + " as " + ALICE + ", for up to 300 s",
            "  attempt 1: without a token: 403 from Google (HTML; IAM: no invoker grant seen yet,"
                + " or no valid token); with "
                + ALICE
                + "'s token: 200 (guard: token from Authorization, intact;"
                + " X-Serverless-Authorization stripped) (both headers); in Authorization alone:"
                + " 200 (guard: token from Authorization, intact; X-Serverless-Authorization"
                + " absent)",
            "Smoke test passed: Google refuses a call without a token, the guard answers "
                + ALICE
                + " with 200.",
            "Clients: send the token in both headers (the default of invoke and"
                + " IdTokenAuthenticator); here a token in Authorization alone arrived intact too.")
        .inOrder();
    assertThat(plan.of("SMOKE=")).containsExactly("pass");
    assertThat(plan.of("@fail ")).isEmpty();
  }

  @Test
  void authorizationAloneStripped_passes_butSaysAuthorizationOnlyClientsFail() {
    Plan plan = attempt(2, false, GOOGLE_401, GUARD_200_BOTH, GUARD_401_STRIPPED);

    assertThat(plan.of("@info ").get(0))
        .startsWith("  attempt 2: without a token: 401 from Google");
    assertThat(plan.of("@info ").get(0))
        .endsWith(
            "in Authorization alone: 401 from the guard (JSON, SIGNATURE_REMOVED; token from"
                + " Authorization, stripped; X-Serverless-Authorization absent)");
    assertThat(plan.of("@info ").get(2))
        .endsWith(
            "here a token in Authorization alone got 401 from the guard (JSON, SIGNATURE_REMOVED;"
                + " token from Authorization, stripped; X-Serverless-Authorization absent), so"
                + " Authorization-only clients fail on this platform.");
    assertThat(plan.of("SMOKE=")).containsExactly("pass");
  }

  @Test
  void grantNotSeenYet_retriesUntilTheLastAttempt_thenFailsNamingWhatItGot() {
    Plan retry = attempt(1, false, GOOGLE_401, GOOGLE_403, GOOGLE_403);
    Plan last = attempt(4, true, GOOGLE_401, GOOGLE_403, GOOGLE_403);

    assertThat(retry.of("SMOKE=")).containsExactly("retry");
    assertThat(retry.of("@fail ")).isEmpty();
    assertThat(last.of("SMOKE=")).containsExactly("fail");
    assertThat(last.of("@info ")).hasSize(1);
    assertThat(last.of("@fail "))
        .containsExactly(
            "smoke test: no pass within 300 s (last: without a token 401 from Google (HTML; IAM:"
                + " no invoker grant seen yet, or no valid token); with a token 403 from Google"
                + " (HTML; IAM: no invoker grant seen yet, or no valid token)); see"
                + " docs/DEPLOY.md, 'Which 403 is this'");
  }

  @Test
  void callWithoutTokenReachingTheGuard_neverPasses_failureSaysGoogleJudgedNothing() {
    Plan retry = attempt(1, false, GUARD_401_NO_TOKEN, GUARD_200_BOTH, GUARD_200_ALONE);
    Plan last = attempt(3, true, GUARD_401_NO_TOKEN, GUARD_200_BOTH, GUARD_200_ALONE);

    assertThat(retry.of("SMOKE=")).containsExactly("retry");
    assertThat(last.of("@fail "))
        .containsExactly(
            "smoke test: a call without a token reached the guard (401 from the guard (JSON,"
                + " unauthorized; token from no header)): Google judged nothing, so the invoker IAM"
                + " check is off or a public grant is left; see docs/DEPLOY.md, 'Which 403 is"
                + " this'");
  }

  @Test
  void noAnswer_andNoToken_areSaidAsSuch_andNeverPass() {
    Plan plan =
        attempt(
            1,
            true,
            NO_ANSWER,
            "{\"tokenError\": \"ERROR: (gcloud.auth.print-identity-token) PERMISSION_DENIED\"}",
            "{\"tokenError\": \"\"}");

    assertThat(plan.of("@info ").get(2))
        .isEqualTo(
            "  attempt 1: without a token: no answer; with "
                + ALICE
                + "'s token: no token: ERROR: (gcloud.auth.print-identity-token)"
                + " PERMISSION_DENIED (both headers); in Authorization alone: no token: gcloud auth"
                + " print-identity-token failed");
    assertThat(plan.of("SMOKE=")).containsExactly("fail");
  }

  @Test
  void aGoogle200WithoutToken_isNoRefusal_soNoPass() {
    Plan plan =
        attempt(
            1,
            false,
            "{\"status\": \"200\", \"type\": \"text/html\"}",
            GUARD_200_BOTH,
            GUARD_200_ALONE);

    assertThat(plan.of("SMOKE=")).containsExactly("retry");
  }

  @Test
  void timeoutInTheFailure_isTheOneGiven() {
    Plan plan =
        attempt(
            TestOptions.of("--allow", ALICE, "--smoke-test", ALICE, "--smoke-test-timeout", "3"),
            2,
            true,
            GOOGLE_401,
            GOOGLE_403,
            GOOGLE_403);

    assertThat(plan.of("@fail ").get(0)).startsWith("smoke test: no pass within 3 s");
  }
}
