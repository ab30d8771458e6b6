package dev.invokerguard.functions;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.verifier.Reason;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link DecisionLog}'s lines as Cloud Logging reads them: one parsable JSON object per line. */
class DecisionLogTest {
  private final List<String> lines = new ArrayList<>();
  private final DecisionLog log = new DecisionLog(Optional.of("host-project"), lines::add);

  @Test
  void denied_detailWithQuotesBackslashesAndLineBreaks_escapedIntoOneLine() {
    String detail = "expected \"x\" \\ got\nnext\r\u2028line\u0000 <b>=";

    log.denied(
        new DecisionLog.RequestFacts("GET", "/p", Optional.empty()),
        Reason.WRONG_AUDIENCE,
        401,
        detail);

    assertThat(lines).hasSize(1);
    String line = lines.get(0);
    assertThat(line).doesNotContain("\n");
    assertThat(line).doesNotContain("\r");
    assertThat(line).doesNotContain("\u2028");
    JsonObject json = JsonParser.parseString(line).getAsJsonObject();
    assertThat(json.get("detail").getAsString()).isEqualTo(detail);
    assertThat(json.get("severity").getAsString()).isEqualTo("WARNING");
    assertThat(json.get("status").getAsInt()).isEqualTo(401);
    assertThat(json.get("reason").getAsString()).isEqualTo("WRONG_AUDIENCE");
  }

  @Test
  void denied_missingMethodAndDetail_fieldsLeftOutNotNull() {
    log.denied(
        new DecisionLog.RequestFacts(null, null, Optional.empty()),
        Reason.MISSING_CREDENTIALS,
        401,
        null);

    JsonObject json = JsonParser.parseString(lines.get(0)).getAsJsonObject();
    assertThat(json.has("method")).isFalse();
    assertThat(json.has("detail")).isFalse();
    assertThat(json.get("path").getAsString()).isEmpty();
  }

  @Test
  void stdout_eachLineOneWriteWithItsNewline_flushedAtOnce() {
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    // Not auto-flushing and buffered: the sink must flush each line itself.
    PrintStream notAutoFlushing =
        new PrintStream(new java.io.BufferedOutputStream(captured, 8192), false);
    System.setOut(notAutoFlushing);
    try {
      DecisionLog.STDOUT.accept("{\"a\":\"é\"}");
      assertThat(captured.toString(StandardCharsets.UTF_8)).isEqualTo("{\"a\":\"é\"}\n");
      DecisionLog.STDOUT.accept("{\"b\":2}");
      assertThat(captured.toString(StandardCharsets.UTF_8))
          .isEqualTo("{\"a\":\"é\"}\n{\"b\":2}\n");
    } finally {
      System.setOut(original);
    }
  }
}
