package dev.invokerguard.deployplan;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.Optional;

/**
 * The smoke test's judgement of one attempt (step {@code smoke}; docs/DEPLOY.md, "Proving it"):
 * deploy.sh makes three calls to the function's URL, without a token, with an ID token of the smoke
 * test's account in both {@code Authorization} and {@code X-Serverless-Authorization}, and with it
 * in {@code Authorization} alone, and passes what each got (fact {@code smoke}). The attempt passes
 * when Google refuses the call without a token (an HTML 401 or 403) and the call with both headers
 * gets 200. The closing line recommends the client setting from what the third call got. deploy.sh
 * keeps the calls, the token (never passed here) and the retries with their deadline.
 *
 * <p>The fact: {@code {"attempt": N, "last": true|false, "none": CALL, "both": CALL,
 * "authorization": CALL}}, each CALL {@code {"status": "403", "type": "text/html", "answer":
 * {reason, error, tokenHeader, tokenSignature, serverlessHeader} or null}} (status {@code 000}: no
 * answer) or, when no token could be minted, {@code {"tokenError": "ERROR: ..."}}. It prints the
 * attempt line and {@code SMOKE=pass}, {@code SMOKE=retry} or, on the last attempt, {@code
 * SMOKE=fail} with the failure ({@code @fail}).
 */
final class Smoke {
  private Smoke() {}

  /** One call as the smoke test saw it. */
  record Call(String status, String type, JsonObject answer, String tokenError) {
    static Call of(JsonElement json) {
      JsonObject call = json != null && json.isJsonObject() ? json.getAsJsonObject() : null;
      if (call == null) {
        return new Call("000", "", null, null);
      }
      if (call.has("tokenError")) {
        return new Call("", "", null, Deployment.text(call, "tokenError").orElse(""));
      }
      JsonElement answer = call.get("answer");
      return new Call(
          Deployment.text(call, "status").orElse("000"),
          Deployment.text(call, "type").orElse(""),
          answer != null && answer.isJsonObject() ? answer.getAsJsonObject() : null,
          null);
    }

    boolean answered() {
      return tokenError == null && !status.equals("000");
    }

    /** A JSON answer is the guard's; anything else that answered is Google's front end's. */
    boolean fromGuard() {
      return answered() && type.startsWith("application/json");
    }

    boolean fromGoogle() {
      return answered() && !fromGuard();
    }

    /** Who answered and how, as the attempt line says it. */
    String describe() {
      if (tokenError != null) {
        return "no token: "
            + (tokenError.isBlank() ? "gcloud auth print-identity-token failed" : tokenError);
      }
      if (!answered()) {
        return "no answer";
      }
      if (fromGoogle()) {
        return status + " from Google (HTML; IAM: no invoker grant seen yet, or no valid token)";
      }
      if (status.equals("200")) {
        return "200 (guard: token from " + saw() + ")";
      }
      String reason = field("reason").or(() -> field("error")).orElse("");
      return status + " from the guard (JSON, " + reason + "; token from " + saw() + ")";
    }

    /**
     * What the guard said of the token it judged (docs/FUNCTION.md, "Which header"): the header it
     * came from, whether it was intact, and the state of X-Serverless-Authorization.
     */
    private String saw() {
      Optional<String> header = field("tokenHeader");
      if (header.isEmpty()) {
        return "no header";
      }
      return header.get()
          + ", "
          + field("tokenSignature").orElse("-")
          + "; X-Serverless-Authorization "
          + field("serverlessHeader").orElse("-");
    }

    private Optional<String> field(String name) {
      return answer == null ? Optional.empty() : Deployment.text(answer, name);
    }
  }

  /** The plan of one attempt; {@code url} is the function's URL (the token's audience). */
  static Plan attempt(Options options, String url, Facts facts) {
    JsonObject smoke =
        facts
            .object("smoke")
            .orElseThrow(() -> new IllegalStateException("the smoke test's calls are missing"));
    int attempt = smoke.has("attempt") ? smoke.get("attempt").getAsInt() : 1;
    boolean last = smoke.has("last") && smoke.get("last").getAsBoolean();
    Call none = Call.of(smoke.get("none"));
    Call both = Call.of(smoke.get("both"));
    Call alone = Call.of(smoke.get("authorization"));
    String account = options.smokeServiceAccount;
    Plan plan = new Plan();
    if (attempt == 1) {
      plan.info("")
          .info(
              "Smoke test: "
                  + url
                  + " as "
                  + account
                  + ", for up to "
                  + options.smokeTimeout
                  + " s");
    }
    plan.info(
        "  attempt "
            + attempt
            + ": without a token: "
            + none.describe()
            + "; with "
            + account
            + "'s token: "
            + both.describe()
            + " (both headers); in Authorization alone: "
            + alone.describe());
    boolean refused =
        none.fromGoogle() && (none.status().equals("401") || none.status().equals("403"));
    if (refused && both.answered() && both.status().equals("200")) {
      String clients =
          "Clients: send the token in both headers (the default of invoke and"
              + " IdTokenAuthenticator); here a token in Authorization alone ";
      return plan.info(
              "Smoke test passed: Google refuses a call without a token, the guard answers "
                  + account
                  + " with 200.")
          .info(
              alone.answered() && alone.status().equals("200")
                  ? clients + "arrived intact too."
                  : clients
                      + "got "
                      + alone.describe()
                      + ", so Authorization-only clients fail on this platform.")
          .set("SMOKE", "pass");
    }
    if (!last) {
      return plan.set("SMOKE", "retry");
    }
    String see = "see docs/DEPLOY.md, 'Which 403 is this'";
    return plan.fail(
            none.fromGuard()
                ? "smoke test: a call without a token reached the guard ("
                    + none.describe()
                    + "): Google judged nothing, so the invoker IAM check is off or a public grant"
                    + " is left; "
                    + see
                : "smoke test: no pass within "
                    + options.smokeTimeout
                    + " s (last: without a token "
                    + none.describe()
                    + "; with a token "
                    + both.describe()
                    + "); "
                    + see)
        .set("SMOKE", "fail");
  }
}
