package dev.invokerguard.verifier;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Jazzer fuzz tests of the token pipeline over a fixed key set: header parsing, token decoding, and
 * structure-aware mutations of minted tokens. Each input is verified by three verifiers (the
 * default one, one without the verified-token cache, one that trusts platform-stripped signatures),
 * and the {@link FuzzFixture} oracle judges every outcome; the verifiers must also agree with each
 * other wherever their configurations do not differ.
 *
 * <p>Under {@code ./mvnw verify} these run in regression mode: every file under {@code
 * src/test/resources/dev/invokerguard/verifier/CallerVerifierFuzzTestInputs/<method>/} (the seeds
 * and every finding so far) is one test input. To fuzz, see docs/FUZZING.md.
 */
class CallerVerifierFuzzTest {
  private static FuzzFixture fixture;
  private static CallerVerifier strict;
  private static CallerVerifier uncached;
  private static CallerVerifier trusting;
  private static List<String> tokens;

  @BeforeAll
  static void setUp() {
    fixture = new FuzzFixture();
    strict = fixture.verifier(false);
    trusting = fixture.verifier(true);
    uncached = fixture.verifier(false, false);
    tokens = fixture.allTokens();
  }

  @AfterAll
  static void tearDown() {
    strict.close();
    uncached.close();
    trusting.close();
    fixture.close();
  }

  /**
   * Arbitrary request headers. The input is a text of {@code Name: value} lines; a line without a
   * colon is a header with no values, a value of a single NUL is a null value, and {@code {V0}}
   * style placeholders stand for the minted tokens (see {@link FuzzFixture}), so the corpus can
   * hold readable headers around real tokens.
   */
  @FuzzTest(maxDuration = "5m")
  void verify_arbitraryHeaders_onlyMintedValidTokenAccepted(byte[] input) {
    Map<String, List<String>> headers = headers(new String(input, StandardCharsets.UTF_8));
    String judged = bearerToken(judgedValues(headers));
    String deciding = decidingToken(headers); // without trust mode
    FuzzFixture.Outcome first = fixture.judge(() -> strict.verify(headers), deciding);
    checkAgreement(first, fixture.judge(() -> strict.verify(headers), deciding), "a repeat");
    checkAgreement(first, fixture.judge(() -> uncached.verify(headers), deciding), "no cache");
    FuzzFixture.Outcome trusted = fixture.judge(() -> trusting.verify(headers), judged);
    if (judged == null || !judged.endsWith("." + CompactJws.SIGNATURE_REMOVED_BY_GOOGLE)) {
      checkAgreement(first, trusted, "the trusting verifier");
    }
    checkHeaderReasons(headers, first);
  }

  /** Arbitrary text as a token, read both as UTF-8 and as Latin-1. */
  @FuzzTest(maxDuration = "5m")
  void verifyToken_arbitraryText_onlyMintedValidTokenAccepted(byte[] input) {
    verifyEverywhere(new String(input, StandardCharsets.UTF_8));
    verifyEverywhere(new String(input, StandardCharsets.ISO_8859_1));
  }

  /** A minted token (valid or not) changed by one to four structure-aware edits. */
  @FuzzTest(maxDuration = "5m")
  void verifyToken_mutatedMintedToken_onlyUnchangedValidTokenAccepted(FuzzedDataProvider data) {
    String base = tokens.get(data.consumeInt(0, tokens.size() - 1));
    verifyEverywhere(TokenMutator.mutate(base, data, tokens));
  }

  private static void verifyEverywhere(String token) {
    FuzzFixture.Outcome first = fixture.judge(() -> strict.verifyToken(token), token);
    checkAgreement(first, fixture.judge(() -> strict.verifyToken(token), token), "a repeat");
    checkAgreement(first, fixture.judge(() -> uncached.verifyToken(token), token), "no cache");
    FuzzFixture.Outcome trusted = fixture.judge(() -> trusting.verifyToken(token), token);
    if (!token.endsWith("." + CompactJws.SIGNATURE_REMOVED_BY_GOOGLE)) {
      checkAgreement(first, trusted, "the trusting verifier");
    }
  }

  private static void checkAgreement(
      FuzzFixture.Outcome expected, FuzzFixture.Outcome actual, String other) {
    if (!expected.sameDecision(actual)) {
      throw new AssertionError(other + " decided differently: " + expected + " vs " + actual);
    }
  }

  /**
   * The header rules, modelled independently: which header is judged, and the reasons that follow
   * from the header alone.
   */
  private static void checkHeaderReasons(
      Map<String, List<String>> headers, FuzzFixture.Outcome outcome) {
    List<String> judged = judgedValues(headers);
    if (judged == null && outcome.reason() != Reason.MISSING_CREDENTIALS) {
      throw new AssertionError("no credentials header, but " + outcome);
    }
    if (judged != null && judged.size() > 1 && outcome.reason() != Reason.MALFORMED_HEADER) {
      throw new AssertionError(judged.size() + " credentials values, but " + outcome);
    }
  }

  /**
   * The values of {@code X-Serverless-Authorization} if any header of that name (any case) is
   * present, else of {@code Authorization}, else null: the platform judges the former when both are
   * sent, so the latter must never be a fallback.
   */
  private static List<String> judgedValues(Map<String, List<String>> headers) {
    List<String> serverless = collect(headers, "x-serverless-authorization");
    return serverless != null ? serverless : collect(headers, "authorization");
  }

  private static List<String> collect(Map<String, List<String>> headers, String lowerName) {
    List<String> values = null;
    for (Map.Entry<String, List<String>> header : headers.entrySet()) {
      if (header.getKey() != null && header.getKey().toLowerCase(Locale.ROOT).equals(lowerName)) {
        if (values == null) {
          values = new ArrayList<>();
        }
        values.addAll(header.getValue());
      }
    }
    return values;
  }

  /**
   * The token an acceptance may be for without trust mode: the judged header's single {@code
   * Bearer} value, except that a stripped {@code X-Serverless-Authorization} token with a single
   * {@code Bearer} value in {@code Authorization} is decided by that copy (docs/FUNCTION.md, "Both
   * headers"). In trust mode the judged header's token decides.
   */
  private static String decidingToken(Map<String, List<String>> headers) {
    String judged = bearerToken(judgedValues(headers));
    List<String> serverless = collect(headers, "x-serverless-authorization");
    if (serverless != null
        && judged != null
        && judged.endsWith("." + CompactJws.SIGNATURE_REMOVED_BY_GOOGLE)) {
      String copy = bearerToken(collect(headers, "authorization"));
      if (copy != null) {
        return copy;
      }
    }
    return judged;
  }

  private static String bearerToken(List<String> values) {
    if (values == null || values.size() != 1 || values.get(0) == null) {
      return null;
    }
    String value = values.get(0).strip();
    if (value.length() < 7 || !value.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    return value.substring(7).stripLeading();
  }

  /** Parses the fuzz input's header text; see the header fuzz test. */
  static Map<String, List<String>> headers(String text) {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (String line : text.split("\n", -1)) {
      if (line.isEmpty()) {
        continue;
      }
      int colon = line.indexOf(':');
      String name = colon < 0 ? line : line.substring(0, colon);
      List<String> values = headers.computeIfAbsent(name, n -> new ArrayList<>());
      if (colon >= 0) {
        String value = line.substring(colon + 1);
        value = value.startsWith(" ") ? value.substring(1) : value;
        values.add(value.equals("\0") ? null : expand(value));
      }
    }
    return headers;
  }

  private static String expand(String value) {
    if (value.indexOf('{') < 0) {
      return value;
    }
    String expanded = value;
    for (Map.Entry<String, String> token : fixture.valid.entrySet()) {
      expanded = expanded.replace("{" + token.getKey() + "}", token.getValue());
    }
    for (Map.Entry<String, String> token : fixture.invalid.entrySet()) {
      expanded = expanded.replace("{" + token.getKey() + "}", token.getValue());
    }
    return expanded;
  }
}
