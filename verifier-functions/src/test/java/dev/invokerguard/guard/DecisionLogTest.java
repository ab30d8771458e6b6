package dev.invokerguard.guard;

import static com.google.common.truth.Truth.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.verifier.CallerRejectedException;
import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.KeyFetchOutcome;
import dev.invokerguard.verifier.KeyHealth;
import dev.invokerguard.verifier.KeyHealthEvent;
import dev.invokerguard.verifier.Reason;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import dev.invokerguard.verifier.VerifiedCaller;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
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
  void denied_longMethodAndPath_cutSoTheLineStaysWithinTheAtomicPipeWrite() {
    // Control characters are what JSON escapes longest (\u0001: six bytes for one character).
    String method = "\u0001".repeat(10_000);
    String path = "/" + "\u0001".repeat(10_000);
    String detail = "\u0001".repeat(80); // the verifier quotes at most 80 characters of a value

    log.denied(
        new DecisionLog.RequestFacts(
            method,
            path,
            Optional.of(
                new TraceContext("105445aa7843bc8bf206b12000100000", "00f067aa0ba902b7", true))),
        Reason.WRONG_AUDIENCE,
        401,
        detail,
        Optional.of("subject"),
        Optional.of("caller@client-project.iam.gserviceaccount.com"),
        Optional.empty());

    String line = lines.get(0);
    JsonObject json = JsonParser.parseString(line).getAsJsonObject();
    assertThat(json.get("method").getAsString())
        .isEqualTo(method.substring(0, DecisionLog.MAX_METHOD_CHARS) + "...");
    assertThat(json.get("path").getAsString()).isEqualTo(path.substring(0, 256) + "...");
    assertThat((line + "\n").getBytes(StandardCharsets.UTF_8).length)
        .isAtMost(GroupCommitWriter.ATOMIC_WRITE_BYTES);
  }

  @Test
  void cut_atASurrogatePair_keepsTheWholeCharacterOut() {
    String emoji = "\uD83D\uDE00"; // one character, two UTF-16 units
    String path = "/" + "a".repeat(254) + emoji + "tail"; // the pair at units 255 and 256

    assertThat(DecisionLog.cut(path, 256)).isEqualTo("/" + "a".repeat(254) + "...");
    assertThat(DecisionLog.cut(path, 257)).isEqualTo("/" + "a".repeat(254) + emoji + "...");
    assertThat(DecisionLog.cut("/short", 256)).isEqualTo("/short");
  }

  @Test
  void denied_registeredMethods_keptWhole() {
    for (String method : List.of("GET", "OPTIONS", "BASELINE-CONTROL", "UPDATEREDIRECTREF")) {
      lines.clear();
      log.denied(
          new DecisionLog.RequestFacts(method, "/", Optional.empty()),
          Reason.MISSING_CREDENTIALS,
          401,
          null);
      assertThat(JsonParser.parseString(lines.get(0)).getAsJsonObject().get("method").getAsString())
          .isEqualTo(method);
    }
  }

  @Test
  void allowed_manyCallersInterleaved_eachLineNamesItsOwnCaller() throws Exception {
    // The caller's fields are written once per caller and reused from a small cache of slots:
    // more callers than slots, each logged several times in turn, must never borrow another's.
    String audience = "https://fn.example/api";
    List<String> emails = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      emails.add("caller-" + i + "@client-project.iam.gserviceaccount.com");
    }
    List<VerifiedCaller> callers = new ArrayList<>();
    try (CallerVerifier verifier =
        CallerVerifier.builder()
            .expectedAudiences(audience)
            .allowlist(ServiceAccountAllowlist.of(emails))
            .trustPlatformVerifiedTokens()
            .build()) {
      for (String email : emails) {
        callers.add(
            verifier.verifyToken(GuardedFunctionTest.platformVerifiedToken(email, audience)));
      }
    }

    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < callers.size(); i++) {
        log.allowed(
            new DecisionLog.RequestFacts("GET", "/r" + round + "/" + i, Optional.empty()),
            callers.get(i));
      }
    }

    assertThat(lines).hasSize(3 * callers.size());
    for (int n = 0; n < lines.size(); n++) {
      int i = n % callers.size();
      JsonObject json = JsonParser.parseString(lines.get(n)).getAsJsonObject();
      assertThat(json.get("caller").getAsString()).isEqualTo(emails.get(i));
      assertThat(json.get("message").getAsString()).isEqualTo("allowed " + emails.get(i));
      assertThat(json.get("path").getAsString()).isEqualTo("/r" + (n / callers.size()) + "/" + i);
      assertThat(json.get("severity").getAsString()).isEqualTo("INFO");
      assertThat(json.get("status").getAsInt()).isEqualTo(200);
      assertThat(json.get("decision").getAsString()).isEqualTo("allow");
      assertThat(json.get("reason").getAsString()).isEqualTo("ALLOWED");
      assertThat(json.get("subject").getAsString()).isEqualTo(callers.get(i).subject());
      assertThat(json.get("audience").getAsString()).isEqualTo(audience);
      assertThat(json.get("signatureCheck").getAsString()).isEqualTo("TRUSTED_PLATFORM");
      assertThat(json.keySet()).hasSize(11);
    }
  }

  @Test
  void allowed_sameCallerWithTraces_callerPartReusedAndTraceFieldsStillPerRequest() {
    // Trace fields come before the reused caller part and differ per request.
    String audience = "https://fn.example/api";
    String email = "alice@client-project.iam.gserviceaccount.com";
    VerifiedCaller caller;
    try (CallerVerifier verifier =
        CallerVerifier.builder()
            .expectedAudiences(audience)
            .allowlist(ServiceAccountAllowlist.of(List.of(email)))
            .trustPlatformVerifiedTokens()
            .build()) {
      caller = verifier.verifyToken(GuardedFunctionTest.platformVerifiedToken(email, audience));
    } catch (CallerRejectedException e) {
      throw new AssertionError(e);
    }
    String first = "105445aa7843bc8bf206b12000100000";
    String second = "205445aa7843bc8bf206b12000100000";

    log.allowed(
        new DecisionLog.RequestFacts("GET", "/a", Optional.of(new TraceContext(first, null, true))),
        caller);
    log.allowed(
        new DecisionLog.RequestFacts(
            "POST", "/b", Optional.of(new TraceContext(second, "00f067aa0ba902b7", false))),
        caller);

    JsonObject one = JsonParser.parseString(lines.get(0)).getAsJsonObject();
    JsonObject two = JsonParser.parseString(lines.get(1)).getAsJsonObject();
    assertThat(one.get(DecisionLog.TRACE_FIELD).getAsString())
        .isEqualTo("projects/host-project/traces/" + first);
    assertThat(one.has(DecisionLog.SPAN_FIELD)).isFalse();
    assertThat(one.get(DecisionLog.SAMPLED_FIELD).getAsBoolean()).isTrue();
    assertThat(two.get(DecisionLog.TRACE_FIELD).getAsString())
        .isEqualTo("projects/host-project/traces/" + second);
    assertThat(two.get(DecisionLog.SPAN_FIELD).getAsString()).isEqualTo("00f067aa0ba902b7");
    assertThat(two.get(DecisionLog.SAMPLED_FIELD).getAsBoolean()).isFalse();
    assertThat(two.get("method").getAsString()).isEqualTo("POST");
    for (JsonObject json : List.of(one, two)) {
      assertThat(json.get("caller").getAsString()).isEqualTo(email);
      assertThat(json.get("decision").getAsString()).isEqualTo("allow");
    }
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

  private static final URI JWKS = URI.create("https://www.googleapis.com/oauth2/v3/certs");

  private static KeyHealthEvent event(
      KeyHealth health, int keyCount, Duration age, Duration usableFor, KeyFetchOutcome outcome) {
    return new KeyHealthEvent(
        health,
        Instant.parse("2026-01-01T00:00:00Z"),
        JWKS,
        keyCount,
        Optional.ofNullable(age),
        usableFor,
        Optional.ofNullable(outcome),
        outcome == KeyFetchOutcome.TIMEOUT
            ? Optional.of("java.net.SocketTimeoutException")
            : Optional.empty(),
        outcome == KeyFetchOutcome.HTTP_STATUS ? Optional.of("HTTP 503") : Optional.empty(),
        health == KeyHealth.RECOVERED ? 7 : 1,
        health == KeyHealth.RECOVERED ? Optional.of(Duration.ofSeconds(120)) : Optional.empty());
  }

  private JsonObject onlyLine() {
    assertThat(lines).hasSize(1);
    assertThat(lines.get(0)).doesNotContain("\n");
    return JsonParser.parseString(lines.get(0)).getAsJsonObject();
  }

  @Test
  void keyHealth_fetchFailed_contractFieldsAndWarning() {
    log.keyHealth(
        event(
            KeyHealth.FETCH_FAILED,
            3,
            Duration.ofSeconds(3600),
            Duration.ofSeconds(7200),
            KeyFetchOutcome.HTTP_STATUS));

    JsonObject json = onlyLine();
    assertThat(json.get("severity").getAsString()).isEqualTo("WARNING");
    assertThat(json.get("keyHealth").getAsString()).isEqualTo("FETCH_FAILED");
    assertThat(json.get("jwksUri").getAsString()).isEqualTo(JWKS.toString());
    assertThat(json.get("keyCount").getAsInt()).isEqualTo(3);
    assertThat(json.get("keyAgeSeconds").getAsLong()).isEqualTo(3600);
    assertThat(json.get("usableForSeconds").getAsLong()).isEqualTo(7200);
    assertThat(json.get("fetchOutcome").getAsString()).isEqualTo("HTTP_STATUS");
    assertThat(json.has("exception")).isFalse();
    assertThat(json.get("message").getAsString())
        .isEqualTo(
            "signing keys: fetch failed (HTTP_STATUS: HTTP 503); keys in use are 3600 s old and"
                + " usable for 7200 s more");
    assertThat(json.has("decision")).isFalse();
    assertThat(json.has("failedFetches")).isFalse();
  }

  @Test
  void keyHealth_eachStateHasItsSeverity() {
    for (KeyHealth health : KeyHealth.values()) {
      lines.clear();
      log.keyHealth(event(health, 2, Duration.ofSeconds(10), Duration.ofSeconds(20), null));
      JsonObject json = onlyLine();
      assertThat(json.get("keyHealth").getAsString()).isEqualTo(health.name());
      assertThat(json.get("severity").getAsString())
          .isEqualTo(
              switch (health) {
                case LOADED, RECOVERED -> "INFO";
                case FETCH_FAILED, STALE_IN_USE -> "WARNING";
                case UNUSABLE -> "ERROR";
              });
    }
  }

  @Test
  void keyHealth_unusableWithoutKeys_noKeyCountUsableZeroOutcomeAndExceptionClass() {
    log.keyHealth(event(KeyHealth.UNUSABLE, 0, null, Duration.ZERO, KeyFetchOutcome.TIMEOUT));

    JsonObject json = onlyLine();
    assertThat(json.get("severity").getAsString()).isEqualTo("ERROR");
    assertThat(json.has("keyCount")).isFalse();
    assertThat(json.has("keyAgeSeconds")).isFalse();
    assertThat(json.get("usableForSeconds").getAsLong()).isEqualTo(0);
    assertThat(json.get("fetchOutcome").getAsString()).isEqualTo("TIMEOUT");
    assertThat(json.get("exception").getAsString()).isEqualTo("java.net.SocketTimeoutException");
  }

  @Test
  void keyHealth_recovered_carriesFailedFetchesAndOutageSeconds() {
    log.keyHealth(event(KeyHealth.RECOVERED, 3, Duration.ZERO, Duration.ofSeconds(90000), null));

    JsonObject json = onlyLine();
    assertThat(json.get("severity").getAsString()).isEqualTo("INFO");
    assertThat(json.get("failedFetches").getAsInt()).isEqualTo(7);
    assertThat(json.get("outageSeconds").getAsLong()).isEqualTo(120);
    assertThat(json.has("fetchOutcome")).isFalse();
  }
}
