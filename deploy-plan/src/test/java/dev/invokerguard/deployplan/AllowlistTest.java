package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.verifier.ServiceAccountAllowlist;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The planner's allowlist ({@link Allowlist}) and the verifier's {@link
 * ServiceAccountAllowlist#parse} judge the same inputs alike, so that deploy.sh never grants IAM to
 * an account the function would refuse, nor refuses one it would accept. Both accept the same
 * emails and numeric unique IDs and yield the same lower-cased entries; the planner also takes
 * {@code EMAIL=UNIQUE_ID} (the email for the IAM grant, the ID pinned in {@code ALLOWED_INVOKERS}),
 * exactly when the verifier accepts its email as an email and its ID as an ID, each without
 * padding. This replaces deploy-test's AllowlistAgreementTest, which ran deploy.sh's bash copy of
 * the rules: the planner asks the verifier's own rules, and this test keeps the comma, padding and
 * pinning layer on top of them honest.
 */
class AllowlistTest {
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String BOB = "bob@client-two.iam.gserviceaccount.com";
  private static final String ID = "123456789012345678901";

  /** Each a value of --allow or INVOKER_GUARD_ALLOW, or of ALLOWED_INVOKERS. */
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

  @Test
  void plannerAndVerifier_judgeEveryInputAlike() {
    List<String> disagreements = new ArrayList<>();
    for (String input : INPUTS) {
      Set<String> expected = verifierEntries(input);
      List<String> actual;
      try {
        actual = Allowlist.entries(List.of(input));
      } catch (UsageError refused) {
        actual = null;
      }
      boolean agree =
          expected == null ? actual == null : actual != null && parts(actual).equals(expected);
      if (!agree) {
        disagreements.add(
            escape(input)
                + ": verifier "
                + (expected == null ? "refuses" : "accepts " + expected)
                + ", planner "
                + (actual != null ? "accepts " + actual : "refuses"));
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

  /** The planner's entries (EMAIL, ID or EMAIL=ID) as the set of their emails and IDs. */
  private static Set<String> parts(List<String> entries) {
    Set<String> out = new TreeSet<>();
    for (String entry : entries) {
      out.addAll(List.of(entry.split("=", -1)));
    }
    return out;
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
