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
 * is called on each input. Both accept the same emails and numeric unique IDs and yield the same
 * lower-cased entries. deploy.sh also takes {@code EMAIL=UNIQUE_ID} (the email for the IAM grant,
 * the ID pinned in {@code ALLOWED_INVOKERS}): it accepts such an entry exactly when the verifier
 * accepts its email as an email and its ID as an ID, each without padding.
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
          // Numeric unique IDs.
          ID,
          ALICE + "," + ID,
          "0123456789",
          "123456789",
          "1234567890",
          "1".repeat(30),
          "1".repeat(31),
          // EMAIL=UNIQUE_ID, pinned.
          ALICE + "=" + ID,
          "Alice@Client-One.IAM.GServiceAccount.COM=" + ID,
          ALICE + "=" + ID + "," + BOB,
          " " + ALICE + "=" + ID + " ",
          ALICE + " =" + ID,
          ALICE + "= " + ID,
          ALICE + "=",
          "=" + ID,
          "=",
          ID + "=" + ALICE,
          ALICE + "=" + ID + "=" + ID,
          ALICE + "=0123456789",
          ALICE + "=123456789",
          "someone@gmail.com=" + ID,
          "\u212Aelvin@p.iam.gserviceaccount.com=" + ID,
          ALICE + "=" + ID + "\u00a0",
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
      Set<String> expected = verifierEntries(input);
      ScriptVerdict actual = script.get(i);
      boolean agree =
          expected == null
              ? !actual.accepted()
              : actual.accepted() && parts(actual.emails()).equals(expected);
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
    long accepted = INPUTS.stream().filter(input -> verifierEntries(input) != null).count();
    assertWithMessage("accepted").that(accepted).isAtLeast(10);
    assertWithMessage("refused").that(INPUTS.size() - accepted).isAtLeast(40);
  }

  /**
   * The emails and unique IDs the verifier accepts (an {@code EMAIL=ID} entry judged as its two
   * halves, each unpadded), or null when it refuses.
   */
  private static Set<String> verifierEntries(String input) {
    List<String> plain = new ArrayList<>();
    Set<String> out = new TreeSet<>();
    for (String entry : input.split(",", -1)) {
      int eq = entry.indexOf('=');
      if (eq < 0) {
        plain.add(entry);
        continue;
      }
      String trimmed = entry.strip();
      eq = trimmed.indexOf('=');
      String email = trimmed.substring(0, eq);
      String id = trimmed.substring(eq + 1);
      if (!email.equals(email.strip())
          || !ServiceAccountAllowlist.isServiceAccountEmail(email)
          || !id.matches("[1-9][0-9]{9,29}")) {
        return null;
      }
      out.add(email.toLowerCase(java.util.Locale.ROOT));
      out.add(id);
    }
    if (!plain.isEmpty()) {
      ServiceAccountAllowlist allowlist;
      try {
        allowlist = ServiceAccountAllowlist.parse(String.join(",", plain));
      } catch (IllegalArgumentException refused) {
        return null;
      }
      out.addAll(allowlist.emails());
      out.addAll(allowlist.uniqueIds());
    }
    return out;
  }

  private record ScriptVerdict(boolean accepted, List<String> emails) {}

  /** deploy.sh's lines (EMAIL, ID or EMAIL=ID) as the set of their emails and IDs. */
  private static Set<String> parts(List<String> lines) {
    Set<String> out = new TreeSet<>();
    for (String line : lines) {
      out.addAll(List.of(line.split("=", -1)));
    }
    return out;
  }

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
      verdicts.add(
          new ScriptVerdict(lines.get(0).equals("accept"), lines.subList(1, lines.size())));
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
