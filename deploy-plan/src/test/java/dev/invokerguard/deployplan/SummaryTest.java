package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The summary: what was deployed, who may call, and call lines that send both headers. */
class SummaryTest {
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String URL = "https://invoker-guard-abc123-ew.a.run.app";

  @Test
  void summary_namesTheFunctionAudiencesAndPins_callLinesSendTheTokenInBothHeaders() {
    Options options = TestOptions.of("--allow", ALICE + "=111111111111111111111");

    List<String> lines =
        Summary.plan(options, URL, List.of("https://a", URL), Callers.of(options, new JsonObject()))
            .of("@info ");

    assertThat(lines)
        .containsAtLeast(
            "Function:  invoker-guard (2nd gen, europe-west1, host-proj), entry point"
                + " dev.invokerguard.function.ProtectedFunction",
            "URL:       " + URL,
            "  https://a",
            "Allowlist: 111111111111111111111 (ALLOWED_INVOKERS)",
            "  " + ALICE + " pinned to unique ID 111111111111111111111")
        .inOrder();
    String curl =
        "  curl -sS -H \"Authorization: Bearer ${TOKEN}\" -H \"X-Serverless-Authorization: Bearer"
            + " ${TOKEN}\" '"
            + URL
            + "'";
    assertThat(lines.stream().filter(line -> line.equals(curl)).count()).isEqualTo(2);
    assertThat(String.join("\n", lines)).contains("identity?audience=" + URL + "&format=full");
    assertThat(String.join("\n", lines)).contains("--impersonate-service-account=" + ALICE + " \\");
  }
}
