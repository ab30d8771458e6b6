package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.TestIssuer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The fuzz tests are only as good as their oracle and their minted tokens: the tokens named valid
 * must really pass, the others must really fail, and the oracle must flag what it is meant to.
 */
class FuzzFixtureTest {
  private static FuzzFixture fixture;
  private static CallerVerifier strict;
  private static CallerVerifier trusting;

  @BeforeAll
  static void setUp() {
    fixture = new FuzzFixture();
    strict = fixture.verifier(false);
    trusting = fixture.verifier(true);
  }

  @AfterAll
  static void tearDown() {
    strict.close();
    trusting.close();
    fixture.close();
  }

  @Test
  void validTokens_acceptedByEveryVerifier() throws Exception {
    for (String token : fixture.valid.values()) {
      assertThat(strict.verifyToken(token).signatureCheck())
          .isEqualTo(VerifiedCaller.SignatureCheck.VERIFIED);
      assertThat(trusting.verifyToken(token).signatureCheck())
          .isEqualTo(VerifiedCaller.SignatureCheck.VERIFIED);
    }
  }

  @Test
  void invalidTokens_rejectedForTheirOwnReason() {
    assertThat(reason("STRANGER")).isEqualTo(Reason.CALLER_NOT_ALLOWED);
    assertThat(reason("EXPIRED")).isEqualTo(Reason.EXPIRED);
    assertThat(reason("WRONG_AUDIENCE")).isEqualTo(Reason.WRONG_AUDIENCE);
    assertThat(reason("UNVERIFIED")).isEqualTo(Reason.EMAIL_NOT_VERIFIED);
    assertThat(reason("OTHER_KEY_UNDER_KID")).isEqualTo(Reason.BAD_SIGNATURE);
    assertThat(reason("UNKNOWN_KID")).isEqualTo(Reason.UNKNOWN_KEY_ID);
    assertThat(reason("SIGNATURE_REMOVED")).isEqualTo(Reason.SIGNATURE_REMOVED);
  }

  @Test
  void keys_sameInEveryRun_soSavedFindingsReplay() {
    assertThat(FuzzFixture.deterministicRsaKey(1).getPublic())
        .isEqualTo(FuzzFixture.deterministicRsaKey(1).getPublic());
    assertThat(new FuzzFixture().valid).isEqualTo(fixture.valid);
  }

  @Test
  void judge_acceptanceOfATokenNotMintedAsValid_isAFinding() {
    VerifiedCaller caller = callerFor(FuzzFixture.CLIENT);
    String notMinted = fixture.valid.get("V0") + "A";

    AssertionError finding =
        assertThrows(AssertionError.class, () -> fixture.judge(() -> caller, notMinted));

    assertThat(finding).hasMessageThat().contains("NOT MINTED AS VALID");
    assertThat(fixture.judge(() -> caller, fixture.valid.get("V0")).caller())
        .isSameInstanceAs(caller);
  }

  @Test
  void judge_trustedPlatformCallerForASignedToken_isAFinding() {
    VerifiedCaller caller =
        callerFor(FuzzFixture.CLIENT, VerifiedCaller.SignatureCheck.TRUSTED_PLATFORM);

    assertThrows(AssertionError.class, () -> fixture.judge(() -> caller, fixture.valid.get("V0")));
  }

  @Test
  void judge_acceptedCallerOutsideThePolicy_isAFinding() {
    VerifiedCaller stranger = callerFor(FuzzFixture.STRANGER);

    assertThrows(
        AssertionError.class, () -> fixture.judge(() -> stranger, fixture.valid.get("V0")));
  }

  @Test
  void judge_anyOtherException_propagates() {
    assertThrows(
        IllegalStateException.class,
        () ->
            fixture.judge(
                () -> {
                  throw new IllegalStateException("boom");
                },
                "x"));
  }

  @Test
  void judge_messageThatCouldBreakALogLine_isAFinding() {
    for (String unsafe : new String[] {"a\nb", "a\u0085b", "a\u2028b", "a\u202Eb", "a\uD800"}) {
      assertThat(FuzzFixture.loggable(unsafe)).isFalse();
      assertThrows(
          AssertionError.class,
          () ->
              fixture.judge(
                  () -> {
                    throw new CallerRejectedException(Reason.MALFORMED_TOKEN, unsafe);
                  },
                  "x"));
    }
    assertThat(FuzzFixture.loggable("expected alg RS256, got 'é😀'")).isTrue();
  }

  private static Reason reason(String name) {
    return assertThrows(
            CallerRejectedException.class, () -> strict.verifyToken(fixture.invalid.get(name)))
        .reason();
  }

  private static VerifiedCaller callerFor(String email) {
    return callerFor(email, VerifiedCaller.SignatureCheck.VERIFIED);
  }

  private static VerifiedCaller callerFor(String email, VerifiedCaller.SignatureCheck check) {
    return new VerifiedCaller(
        TestIssuer.uniqueIdOf(email),
        email,
        "https://accounts.google.com",
        FuzzFixture.AUDIENCE,
        FuzzFixture.NOW,
        FuzzFixture.NOW.plusSeconds(3600),
        check,
        TokenSource.AUTHORIZATION);
  }
}
