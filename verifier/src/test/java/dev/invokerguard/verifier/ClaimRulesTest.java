package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.testing.TokenBuilder;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The claim rules on their own ({@link ClaimRules}, RFC 7519 section 4.1): no keys and no I/O. The
 * claims come from real tokens of {@link TestIssuer}, read as the pipeline reads them ({@link
 * CompactJws#claims()}), so a wrong JSON type fails where it fails in production.
 */
class ClaimRulesTest {
  static final String AUDIENCE =
      "https://europe-west1-host-project.cloudfunctions.net/internal-api";
  static final String RUN_AUDIENCE = "https://internal-api-abc123-ew.a.run.app";
  static final String CLIENT = "api-client@client-project.iam.gserviceaccount.com";
  static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");

  private TestIssuer issuer;
  private final ClaimRules rules = rules(VerifierSettings.CLOCK_SKEW.defaultValue());

  private static ClaimRules rules(Duration skew) {
    return new ClaimRules(
        new LinkedHashSet<>(CallerVerifier.GOOGLE_ISSUERS),
        new LinkedHashSet<>(List.of(AUDIENCE, RUN_AUDIENCE)),
        skew);
  }

  @BeforeEach
  void setUp() {
    issuer = TestIssuer.builder().clock(new MutableClock(NOW)).start();
  }

  @AfterEach
  void tearDown() {
    issuer.close();
  }

  private TokenBuilder client() {
    return issuer.token().email(CLIENT).audience(AUDIENCE);
  }

  private static JoseJson.Claims claims(TokenBuilder token) throws CallerRejectedException {
    return CompactJws.split(token.build()).claims();
  }

  private String accepted(ClaimRules rules, TokenBuilder token) throws CallerRejectedException {
    return rules.validate(claims(token), NOW);
  }

  private Reason rejection(ClaimRules rules, TokenBuilder token) {
    return assertThrows(CallerRejectedException.class, () -> rules.validate(claims(token), NOW))
        .reason();
  }

  private Reason rejection(TokenBuilder token) {
    return rejection(rules, token);
  }

  @Test
  void validClaims_returnTheExpectedAudienceTheTokenNamed() throws Exception {
    assertThat(accepted(rules, client())).isEqualTo(AUDIENCE);
    assertThat(accepted(rules, client().audience(RUN_AUDIENCE).issuer("accounts.google.com")))
        .isEqualTo(RUN_AUDIENCE);
    assertThat(accepted(rules, client().audiences("https://other.example", RUN_AUDIENCE, AUDIENCE)))
        .isEqualTo(RUN_AUDIENCE);
  }

  @Test
  void wrongIssuer_rejected_missingIssuerInvalid() {
    assertThat(rejection(client().issuer("https://evil.example"))).isEqualTo(Reason.WRONG_ISSUER);
    assertThat(rejection(client().issuer("https://accounts.google.com/")))
        .isEqualTo(Reason.WRONG_ISSUER);
    assertThat(rejection(client().removeClaim("iss"))).isEqualTo(Reason.INVALID_CLAIM);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        AUDIENCE + "/",
        AUDIENCE + "/admin",
        "https://europe-west1-host-project.cloudfunctions.net/internal",
        "HTTPS://europe-west1-host-project.cloudfunctions.net/internal-api",
        " " + AUDIENCE,
        "https://europe-west1-host-project.cloudfunctions.net/INTERNAL-API"
      })
  void audienceNearMiss_rejectedAsWrongAudience(String audience) {
    assertThat(rejection(issuer.token().email(CLIENT).audience(audience)))
        .isEqualTo(Reason.WRONG_AUDIENCE);
  }

  @Test
  void audienceMissingEmptyOrNotString_rejectedAsInvalidClaim() {
    assertThat(rejection(issuer.token().email(CLIENT).removeClaim("aud")))
        .isEqualTo(Reason.INVALID_CLAIM);
    assertThat(rejection(issuer.token().email(CLIENT).claim("aud", List.of())))
        .isEqualTo(Reason.INVALID_CLAIM);
    assertThat(rejection(issuer.token().email(CLIENT).claim("aud", 42)))
        .isEqualTo(Reason.INVALID_CLAIM);
    assertThat(rejection(issuer.token().email(CLIENT).claim("aud", List.of(AUDIENCE, 42))))
        .isEqualTo(Reason.INVALID_CLAIM);
  }

  @Test
  void expiredBeyondSkew_rejectedAsExpired_withinSkewAccepted() throws Exception {
    assertThat(
            accepted(
                rules, client().expiresAt(NOW.minusSeconds(59)).issuedAt(NOW.minusSeconds(3659))))
        .isEqualTo(AUDIENCE);
    assertThat(rejection(client().expiresAt(NOW.minusSeconds(60)).issuedAt(NOW.minusSeconds(3660))))
        .isEqualTo(Reason.EXPIRED);
  }

  @Test
  void issuedInTheFutureBeyondSkew_rejected_withinSkewAccepted() throws Exception {
    assertThat(accepted(rules, client().issuedAt(NOW.plusSeconds(60)))).isEqualTo(AUDIENCE);
    assertThat(rejection(client().issuedAt(NOW.plusSeconds(61))))
        .isEqualTo(Reason.ISSUED_IN_FUTURE);
  }

  @Test
  void notBeforeInTheFutureBeyondSkew_rejected_withinSkewAccepted() throws Exception {
    assertThat(accepted(rules, client().notBefore(NOW.plusSeconds(60)))).isEqualTo(AUDIENCE);
    assertThat(rejection(client().notBefore(NOW.plusSeconds(61)))).isEqualTo(Reason.NOT_YET_VALID);
  }

  @Test
  void zeroSkew_expiryExact() throws Exception {
    ClaimRules strict = rules(Duration.ZERO);
    assertThat(rejection(strict, client().expiresAt(NOW).issuedAt(NOW.minusSeconds(3600))))
        .isEqualTo(Reason.EXPIRED);
    assertThat(accepted(strict, client().expiresAt(NOW.plusSeconds(1)))).isEqualTo(AUDIENCE);
    assertThat(strict.skewSeconds()).isEqualTo(0);
  }

  @Test
  void requiredTimesMissing_rejectedAsInvalidClaim() {
    assertThat(rejection(client().removeClaim("exp"))).isEqualTo(Reason.INVALID_CLAIM);
    assertThat(rejection(client().removeClaim("iat"))).isEqualTo(Reason.INVALID_CLAIM);
  }

  @ParameterizedTest
  @ValueSource(strings = {"exp", "iat", "nbf"})
  void nonNumericOrAbsurdTimes_rejectedAsInvalidClaim(String claim) {
    for (Object value :
        List.<Object>of("1999999999", true, List.of(1), -1, 1e300, Map.of("t", 1))) {
      assertThat(rejection(client().claim(claim, value))).isEqualTo(Reason.INVALID_CLAIM);
    }
  }

  @Test
  void fractionalExpiry_truncatedToSecondsAndAccepted() throws Exception {
    TokenBuilder token = client().claim("exp", NOW.getEpochSecond() + 600.75);
    assertThat(claims(token).exp()).isEqualTo(NOW.getEpochSecond() + 600);
    assertThat(accepted(rules, token)).isEqualTo(AUDIENCE);
  }

  @Test
  void noSubject_rejectedAsInvalidClaim() {
    assertThat(rejection(client().removeClaim("sub"))).isEqualTo(Reason.INVALID_CLAIM);
    assertThat(rejection(client().claim("sub", ""))).isEqualTo(Reason.INVALID_CLAIM);
  }

  @Test
  void issuersAndAudiencesAreCopied_laterChangesToTheSetsDoNotLeakIn() throws Exception {
    Set<String> audiences = new LinkedHashSet<>(List.of(AUDIENCE));
    ClaimRules copied =
        new ClaimRules(Set.copyOf(CallerVerifier.GOOGLE_ISSUERS), audiences, Duration.ZERO);
    audiences.add(RUN_AUDIENCE);
    assertThat(rejection(copied, client().audience(RUN_AUDIENCE))).isEqualTo(Reason.WRONG_AUDIENCE);
  }
}
