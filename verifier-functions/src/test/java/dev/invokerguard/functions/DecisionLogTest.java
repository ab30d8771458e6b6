package dev.invokerguard.functions;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.verifier.Reason;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
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
  void writingTo_eachLineWithItsNewlineInOneWriteCall() {
    List<byte[]> writes = new ArrayList<>();
    OutputStream recording =
        new OutputStream() {
          @Override
          public void write(int b) {
            writes.add(new byte[] {(byte) b});
          }

          @Override
          public void write(byte[] bytes, int offset, int length) {
            writes.add(java.util.Arrays.copyOfRange(bytes, offset, offset + length));
          }
        };
    Consumer<String> sink = DecisionLog.writingTo(recording);

    sink.accept("{\"a\":\"é\"}");
    sink.accept("{\"b\":2}");

    assertThat(writes).hasSize(2);
    assertThat(new String(writes.get(0), StandardCharsets.UTF_8)).isEqualTo("{\"a\":\"é\"}\n");
    assertThat(new String(writes.get(1), StandardCharsets.UTF_8)).isEqualTo("{\"b\":2}\n");
  }

  @Test
  void writingTo_failingOutput_lineDroppedWithoutThrowing() {
    List<String> attempts = new ArrayList<>();
    Consumer<String> sink =
        DecisionLog.writingTo(
            new OutputStream() {
              @Override
              public void write(int b) throws IOException {
                throw new IOException("closed");
              }

              @Override
              public void write(byte[] bytes, int offset, int length) throws IOException {
                attempts.add(new String(bytes, offset, length, StandardCharsets.UTF_8));
                throw new IOException("closed");
              }
            });

    sink.accept("{}");

    assertThat(attempts).containsExactly("{}\n");
  }
}
