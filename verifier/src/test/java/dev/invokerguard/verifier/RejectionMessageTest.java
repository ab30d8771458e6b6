package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Rejection messages quote attacker-chosen values (an {@code alg}, an {@code iss}) and end up in
 * log lines, so nothing in them may break or hide a line. Found by the fuzz test
 * (CallerVerifierFuzzTestInputs/.../finding-c1-control-character-in-issuer-message): the quoting
 * removed ASCII controls only, and a C1 control (U+0085, a line break to some log readers) came
 * through.
 */
class RejectionMessageTest {
  private static FuzzFixture fixture;
  private static CallerVerifier trusting;

  @BeforeAll
  static void setUp() {
    fixture = new FuzzFixture();
    trusting = fixture.verifier(true);
  }

  @AfterAll
  static void tearDown() {
    trusting.close();
    fixture.close();
  }

  @Test
  void verify_algWithLineBreakingAndHiddenCharacters_messageReplacesThem() {
    String alg = "RS\n256\u0085\u2028\u2029\u202E\u0000x";
    String token =
        fixture
            .issuer
            .token()
            .email(FuzzFixture.CLIENT)
            .audience(FuzzFixture.AUDIENCE)
            .header("alg", alg)
            .build();

    CallerRejectedException rejection =
        assertThrows(CallerRejectedException.class, () -> trusting.verifyToken(token));

    assertThat(rejection.reason()).isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
    assertThat(rejection).hasMessageThat().contains("'RS?256?????x'");
    assertThat(FuzzFixture.loggable(rejection.getMessage())).isTrue();
  }

  @Test
  void verify_issuerWithC1Control_messageReplacesIt() {
    // Only a platform-trusting verifier reads the claims of an unsigned token; that is where the
    // fuzzer found it.
    String token =
        fixture
            .issuer
            .token()
            .email(FuzzFixture.CLIENT)
            .audience(FuzzFixture.AUDIENCE)
            .issuer("https://accounts.google.com\u0085severity=INFO")
            .signature(CompactJws.SIGNATURE_REMOVED_BY_GOOGLE)
            .build();

    CallerRejectedException rejection =
        assertThrows(CallerRejectedException.class, () -> trusting.verifyToken(token));

    assertThat(rejection.reason()).isEqualTo(Reason.WRONG_ISSUER);
    assertThat(rejection).hasMessageThat().contains("'https://accounts.google.com?severity=INFO'");
    assertThat(FuzzFixture.loggable(rejection.getMessage())).isTrue();
  }

  @Test
  void verify_longValueCutInsideASurrogatePair_noLoneSurrogateInMessage() {
    String alg = "x".repeat(79) + "\uD83D\uDE00"; // the cut at 80 falls between the two halves

    String token =
        fixture
            .issuer
            .token()
            .email(FuzzFixture.CLIENT)
            .audience(FuzzFixture.AUDIENCE)
            .header("alg", alg)
            .build();
    CallerRejectedException rejection =
        assertThrows(CallerRejectedException.class, () -> trusting.verifyToken(token));

    assertThat(rejection.reason()).isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
    assertThat(FuzzFixture.loggable(rejection.getMessage())).isTrue();
  }
}
