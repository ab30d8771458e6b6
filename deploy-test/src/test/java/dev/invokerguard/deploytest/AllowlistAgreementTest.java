package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.verifier.ServiceAccountAllowlist;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * deploy.sh's allowlist check and the verifier's {@link ServiceAccountAllowlist#parse} judge the
 * same inputs alike, so that deploy.sh never grants IAM to an account the function would refuse,
 * nor refuses one it would accept.
 *
 * <p>deploy.sh is sourced (it runs {@code main} only when executed) and its {@code allowlist_from}
 * is called on each input. The one intended difference: numeric unique IDs are for {@code
 * ALLOWED_INVOKERS} only (an IAM binding needs an email), so deploy.sh accepts a list exactly when
 * the verifier accepts it with no unique ID, and then both yield the same lower-cased emails.
 */
class AllowlistAgreementTest {
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String BOB = "bob@client-two.iam.gserviceaccount.com";
  private static final String ID = "123456789012345678901";

  /** Each a value of --allow or INVOKER_GUARD_ALLOW, or of ALLOWED_INVOKERS. No NUL: bash can't. */
  private static final List<String> INPUTS =
      List.of(
          // Valid, in each accepted domain, and at the length limits of each part.
          ALICE,
          "123456789-compute@developer.gserviceaccount.com",
          "host-proj@appspot.gserviceaccount.com",
          "a@b.iam.gserviceaccount.com",
          "a.b_c-d@p-1.x.iam.gserviceaccount.com",
          "a@developer.gserviceaccount.com",
          "x".repeat(100) + "@p.iam.gserviceaccount.com",
          "x".repeat(101) + "@p.iam.gserviceaccount.com",
          "a@" + "p".repeat(100) + ".iam.gserviceaccount.com",
          "a@" + "p".repeat(101) + ".iam.gserviceaccount.com",
          // Case.
          "Alice@Client-One.IAM.GServiceAccount.COM",
          "ALICE@CLIENT-ONE.IAM.GSERVICEACCOUNT.COM",
          // Lists, duplicates in another case.
          ALICE + "," + BOB,
          ALICE + ", " + ALICE.toUpperCase(java.util.Locale.ROOT),
          " " + ALICE + " , " + BOB + " ",
          // Spaces and other padding: around an entry ignored, inside refused.
          "  " + ALICE + "  ",
          "\t" + ALICE + "\r\n",
          "\u000b" + ALICE + "\f",
          "\u001f" + ALICE + "\u001c",
          "\u0001" + ALICE,
          ALICE + "\u007f",
          "alice @client-one.iam.gserviceaccount.com",
          "al ice@client-one.iam.gserviceaccount.com",
          "alice@client-one.iam.gserviceaccount.com\nbob@client-two.iam.gserviceaccount.com",
          // Empty.
          "",
          " ",
          "\t",
          ",",
          ALICE + ",",
          "," + ALICE,
          ALICE + ",," + BOB,
          ALICE + ", ," + BOB,
          // Numeric unique IDs: the verifier's only; deploy.sh needs emails for IAM.
          ID,
          ALICE + "," + ID,
          "0123456789",
          "123456789",
          // User accounts, IAM member prefixes, look-alike domains.
          "someone@gmail.com",
          "someone@example.com",
          "user:someone@gmail.com",
          "serviceAccount:" + ALICE,
          "a@x.iam.gserviceaccount.com.evil.example",
          "a@iam.gserviceaccount.com",
          "a@gserviceaccount.com",
          "a@x.developer.gserviceaccount.com",
          "a@x.appspot.gserviceaccount.com",
          "a@x.iam.gserviceaccount.co",
          "alice",
          "@client-one.iam.gserviceaccount.com",
          "alice@@client-one.iam.gserviceaccount.com",
          // Dots and hyphens at the edges.
          ALICE + ".",
          "alice.@client-one.iam.gserviceaccount.com",
          ".alice@client-one.iam.gserviceaccount.com",
          "-alice@client-one.iam.gserviceaccount.com",
          "alice@client-one..iam.gserviceaccount.com",
          "alice@client-one-.iam.gserviceaccount.com",
          "alice@.iam.gserviceaccount.com",
          // Characters the pattern knows nothing of, and the env delimiter.
          "a|b@p.iam.gserviceaccount.com",
          "a+b@p.iam.gserviceaccount.com",
          "a*@p.iam.gserviceaccount.com",
          "'" + ALICE + "'",
          "\"" + ALICE + "\"",
          // Non-ASCII: look-alikes that lower-case to ASCII (Kelvin sign, dotted capital I),
          // fullwidth and accented letters, and Unicode spaces around an entry.
          "\u212Aelvin@p.iam.gserviceaccount.com",
          "ALICE@CLIENT-ONE.\u0130AM.GSERVICEACCOUNT.COM",
          "al\u0131ce@client-one.iam.gserviceaccount.com",
          "\uff41lice@client-one.iam.gserviceaccount.com",
          "al\u00e9ce@client-one.iam.gserviceaccount.com",
          "\u00a0" + ALICE,
          "\u2003" + ALICE,
          ALICE + "\u3000",
          "\u200b" + ALICE);

  @TempDir Path temp;

  /**
   * Run in the C locale and in a UTF-8 one: bash's lower-casing and character classes follow the
   * locale, and the check must not. (Where C.UTF-8 is missing, bash warns and stays in C.)
   */
  @ParameterizedTest(name = "LC_ALL={0}")
  @ValueSource(strings = {"C", "C.UTF-8"})
  void deployScriptAndVerifier_judgeEveryInputAlike(String locale) throws Exception {
    List<ScriptVerdict> script = runAllowlistFrom(locale);

    List<String> disagreements = new ArrayList<>();
    for (int i = 0; i < INPUTS.size(); i++) {
      String input = INPUTS.get(i);
      Set<String> expected = verifierEmails(input);
      ScriptVerdict actual = script.get(i);
      boolean agree =
          expected == null
              ? !actual.accepted()
              : actual.accepted() && new TreeSet<>(actual.emails()).equals(expected);
      if (!agree) {
        disagreements.add(
            escape(input)
                + ": verifier "
                + (expected == null ? "refuses" : "accepts " + expected)
                + ", deploy.sh "
                + (actual.accepted() ? "accepts " + actual.emails() : "refuses"));
      }
    }
    assertWithMessage("inputs judged differently:\n%s", String.join("\n", disagreements))
        .that(disagreements)
        .isEmpty();
  }

  /** The test must not pass by accident: both accept some inputs and refuse others. */
  @Test
  void inputs_holdAcceptedAndRefusedEntries() {
    long accepted = INPUTS.stream().filter(input -> verifierEmails(input) != null).count();
    assertWithMessage("accepted").that(accepted).isAtLeast(10);
    assertWithMessage("refused").that(INPUTS.size() - accepted).isAtLeast(40);
  }

  /** The emails the verifier accepts, or null when it refuses or accepts a unique ID. */
  private static Set<String> verifierEmails(String input) {
    ServiceAccountAllowlist allowlist;
    try {
      allowlist = ServiceAccountAllowlist.parse(input);
    } catch (IllegalArgumentException refused) {
      return null;
    }
    return allowlist.uniqueIds().isEmpty() ? new TreeSet<>(allowlist.emails()) : null;
  }

  private record ScriptVerdict(boolean accepted, List<String> emails) {}

  /**
   * Calls deploy.sh's allowlist_from once per input in one bash process. Inputs go through a file
   * of NUL-terminated UTF-8 strings, so that no argument encoding of the JVM can alter them.
   */
  private List<ScriptVerdict> runAllowlistFrom(String locale)
      throws IOException, InterruptedException {
    Path inputs = temp.resolve("inputs");
    StringBuilder all = new StringBuilder();
    for (String input : INPUTS) {
      all.append(input).append('\0');
    }
    Files.writeString(inputs, all, StandardCharsets.UTF_8);
    Path out = temp.resolve("verdicts-" + locale);
    ProcessBuilder builder =
        new ProcessBuilder(
            "bash",
            "-c",
            """
            source "$1"
            while IFS= read -r -d '' value; do
              if emails="$(allowlist_from "${value}" 2>/dev/null)"; then
                printf 'accept\\n%s\\0' "${emails}"
              else
                printf 'reject\\0'
              fi
            done <"$2"
            """,
            "bash",
            Tools.repositoryRoot().resolve("deploy.sh").toString(),
            inputs.toString());
    builder.environment().put("LC_ALL", locale);
    builder.redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD);
    Process process = builder.start();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("bash did not finish within 60 s");
    }
    assertWithMessage("bash exit code").that(process.exitValue()).isEqualTo(0);
    String[] records = Files.readString(out, StandardCharsets.UTF_8).split("\0");
    assertWithMessage("one verdict per input").that(records).hasLength(INPUTS.size());
    List<ScriptVerdict> verdicts = new ArrayList<>();
    for (String record : records) {
      List<String> lines = Arrays.asList(record.split("\n", -1));
      verdicts.add(new ScriptVerdict(lines.get(0).equals("accept"), lines.subList(1, lines.size())));
    }
    return verdicts;
  }

  private static String escape(String input) {
    StringBuilder out = new StringBuilder("\"");
    input
        .codePoints()
        .forEach(
            c -> {
              if (c >= 0x20 && c < 0x7f) {
                out.appendCodePoint(c);
              } else {
                out.append(String.format("\\u%04X", c));
              }
            });
    return out.append('"').toString();
  }
}
