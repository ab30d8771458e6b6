package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The token pipeline end to end: real keys, a real JWKS server on loopback, a controlled clock. */
class CallerVerifierTest {
  static final String AUDIENCE =
      "https://europe-west1-host-project.cloudfunctions.net/internal-api";
  static final String RUN_AUDIENCE = "https://internal-api-abc123-ew.a.run.app";
  static final String CLIENT = "api-client@client-project.iam.gserviceaccount.com";
  static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";
  static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");

  private MutableClock clock;
  private TestIssuer issuer;
  private CallerVerifier verifier;

  @BeforeEach
  void setUp() {
    clock = new MutableClock(NOW);
    issuer = TestIssuer.builder().clock(clock).start();
    verifier = verifierBuilder().build();
  }

  @AfterEach
  void tearDown() {
    verifier.close();
    issuer.close();
  }

  private CallerVerifier.Builder verifierBuilder() {
    return CallerVerifier.builder()
        .expectedAudiences(AUDIENCE, RUN_AUDIENCE)
        .allowlist(ServiceAccountAllowlist.parse(CLIENT))
        .clock(clock)
        .jwksUri(issuer.jwksUri())
        .keyFetchTimeout(Duration.ofSeconds(2));
  }

  private static Map<String, List<String>> bearer(String token) {
    return Map.of("Authorization", List.of("Bearer " + token));
  }

  private Reason rejection(Map<String, List<String>> headers) {
    return assertThrows(CallerRejectedException.class, () -> verifier.verify(headers)).reason();
  }

  private Reason rejection(String token) {
    return rejection(bearer(token));
  }

  // ---- the happy path ----

  @Test
  void verify_allowedCaller_returnsVerifiedCallerWithClaims() throws Exception {
    VerifiedCaller caller = verifier.verify(bearer(issuer.mint(CLIENT, AUDIENCE)));

    assertThat(caller.email()).hasValue(CLIENT);
    assertThat(caller.principal()).isEqualTo(CLIENT);
    assertThat(caller.subject()).isEqualTo(TestIssuer.uniqueIdOf(CLIENT));
    assertThat(caller.audience()).isEqualTo(AUDIENCE);
    assertThat(caller.issuer()).isEqualTo("https://accounts.google.com");
    assertThat(caller.issuedAt()).isEqualTo(NOW);
    assertThat(caller.expiresAt()).isEqualTo(NOW.plusSeconds(3600));
    assertThat(caller.signatureCheck()).isEqualTo(VerifiedCaller.SignatureCheck.VERIFIED);
  }

  @Test
  void verify_secondAudienceAndLegacyIssuer_accepted() throws Exception {
    String token =
        issuer.token().email(CLIENT).audience(RUN_AUDIENCE).issuer("accounts.google.com").build();
    assertThat(verifier.verify(bearer(token)).audience()).isEqualTo(RUN_AUDIENCE);
  }

  @Test
  void verify_audienceArrayNamingAnExpectedAudience_accepted() throws Exception {
    String token =
        issuer.token().email(CLIENT).audiences("https://elsewhere.example", AUDIENCE).build();
    assertThat(verifier.verify(bearer(token)).audience()).isEqualTo(AUDIENCE);
  }

  @Test
  void verifyToken_withoutHeaders_sameChecks() throws Exception {
    assertThat(verifier.verifyToken(issuer.mint(CLIENT, AUDIENCE)).principal()).isEqualTo(CLIENT);
    assertThat(
            assertThrows(
                    CallerRejectedException.class,
                    () -> verifier.verifyToken(issuer.mint(STRANGER, AUDIENCE)))
                .reason())
        .isEqualTo(Reason.CALLER_NOT_ALLOWED);
  }

  // ---- which header, and its form ----

  @Test
  void verify_noCredentials_rejectedAsMissing() {
    assertThat(rejection(Map.of("Content-Type", List.of("application/json"))))
        .isEqualTo(Reason.MISSING_CREDENTIALS);
    assertThat(Reason.MISSING_CREDENTIALS.category()).isEqualTo(Reason.Category.NO_CREDENTIALS);
  }

  @Test
  void verify_headerNameAndSchemeInAnyCase_accepted() throws Exception {
    Map<String, List<String>> headers = new HashMap<>();
    headers.put("aUtHoRiZaTiOn", List.of("bEARER " + issuer.mint(CLIENT, AUDIENCE)));
    assertThat(verifier.verify(headers).principal()).isEqualTo(CLIENT);
  }

  @Test
  void verify_otherScheme_rejectedAsUnsupportedScheme() {
    assertThat(rejection(Map.of("Authorization", List.of("Basic dXNlcjpwYXNz"))))
        .isEqualTo(Reason.UNSUPPORTED_SCHEME);
    assertThat(
            rejection(Map.of("Authorization", List.of("Bearer2 " + issuer.mint(CLIENT, AUDIENCE)))))
        .isEqualTo(Reason.UNSUPPORTED_SCHEME);
  }

  @Test
  void verify_emptyHeader_rejectedAsMissing() {
    assertThat(rejection(Map.of("Authorization", List.of(""))))
        .isEqualTo(Reason.MISSING_CREDENTIALS);
  }

  @ParameterizedTest
  @ValueSource(strings = {"Bearer", "Bearer    ", "Bearer a b", "Bearer a,b"})
  void verify_malformedBearerValue_rejectedAsMalformedHeader(String value) {
    assertThat(rejection(Map.of("Authorization", List.of(value))))
        .isEqualTo(Reason.MALFORMED_HEADER);
  }

  @Test
  void verify_twoValues_rejectedAsMalformedHeader() {
    String token = issuer.mint(CLIENT, AUDIENCE);
    assertThat(rejection(Map.of("Authorization", List.of("Bearer " + token, "Bearer " + token))))
        .isEqualTo(Reason.MALFORMED_HEADER);
    Map<String, List<String>> twoSpellings = new HashMap<>();
    twoSpellings.put("Authorization", List.of("Bearer " + token));
    twoSpellings.put("authorization", List.of("Bearer " + token));
    assertThat(rejection(twoSpellings)).isEqualTo(Reason.MALFORMED_HEADER);
  }

  @Test
  void verify_headerOverSizeCap_rejectedAsMalformedHeader() {
    String huge = "Bearer " + "a".repeat(16 * 1024);
    assertThat(rejection(Map.of("Authorization", List.of(huge))))
        .isEqualTo(Reason.MALFORMED_HEADER);
  }

  @Test
  void verify_serverlessHeaderPresent_judgedInsteadOfAuthorization() throws Exception {
    String valid = issuer.mint(CLIENT, AUDIENCE);
    Map<String, List<String>> validServerless =
        Map.of(
            "X-Serverless-Authorization", List.of("Bearer " + valid),
            "Authorization", List.of("Bearer not-a-token"));
    assertThat(verifier.verify(validServerless).principal()).isEqualTo(CLIENT);

    Map<String, List<String>> badServerless =
        Map.of(
            "x-serverless-authorization", List.of("Bearer not-a-token"),
            "Authorization", List.of("Bearer " + valid));
    assertThat(rejection(badServerless)).isEqualTo(Reason.MALFORMED_TOKEN);

    Map<String, List<String>> emptyServerless =
        Map.of(
            "X-Serverless-Authorization", List.of(""), "Authorization", List.of("Bearer " + valid));
    assertThat(rejection(emptyServerless)).isEqualTo(Reason.MISSING_CREDENTIALS);
  }

  // ---- the JWS steps, wired in (each rule on its own: CompactJwsTest) ----

  @Test
  void verify_algNone_rejectedAsUnsupportedAlgorithm() {
    String token = issuer.token().email(CLIENT).audience(AUDIENCE).header("alg", "none").build();
    String unsigned = token.substring(0, token.lastIndexOf('.') + 1);
    assertThat(rejection(unsigned)).isEqualTo(Reason.MALFORMED_TOKEN);
    String noneWithSignature =
        issuer.token().email(CLIENT).audience(AUDIENCE).header("alg", "none").build();
    assertThat(rejection(noneWithSignature)).isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
    assertThat(
            rejection(issuer.token().email(CLIENT).audience(AUDIENCE).removeHeader("alg").build()))
        .isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
  }

  @Test
  void verify_unknownKid_rejectedAsUnknownKeyId() {
    assertThat(
            rejection(issuer.token().email(CLIENT).audience(AUDIENCE).keyId("no-such-key").build()))
        .isEqualTo(Reason.UNKNOWN_KEY_ID);
  }

  @Test
  void verify_payloadSwappedAfterSigning_rejectedAsBadSignature() {
    String[] mine = issuer.mint(STRANGER, AUDIENCE).split("\\.");
    String[] theirs = issuer.mint(CLIENT, AUDIENCE).split("\\.");
    assertThat(rejection(mine[0] + "." + theirs[1] + "." + mine[2]))
        .isEqualTo(Reason.BAD_SIGNATURE);
  }

  @Test
  void verify_signatureRemovedByGoogle_rejectedByDefault() {
    String token =
        issuer
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .signature("SIGNATURE_REMOVED_BY_GOOGLE")
            .build();
    assertThat(rejection(token)).isEqualTo(Reason.SIGNATURE_REMOVED);
    assertThat(Reason.SIGNATURE_REMOVED.category()).isEqualTo(Reason.Category.INVALID_TOKEN);
  }

  /**
   * Issue 12 item 7, issue 21 item 1: the platform removes the signature of a token it checked in
   * X-Serverless-Authorization; the log detail tells the operator what the client should do.
   */
  @Test
  void verify_signatureRemovedByGoogle_detailSaysToSendTheTokenInBothHeaders() {
    String token =
        issuer
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .signature("SIGNATURE_REMOVED_BY_GOOGLE")
            .build();
    Map<String, List<String>> headers =
        Map.of("X-Serverless-Authorization", List.of("Bearer " + token));
    CallerRejectedException e =
        assertThrows(CallerRejectedException.class, () -> verifier.verify(headers));
    assertThat(e.reason()).isEqualTo(Reason.SIGNATURE_REMOVED);
    assertThat(e).hasMessageThat().contains("X-Serverless-Authorization");
    assertThat(e).hasMessageThat().contains("no copy came in Authorization");
    assertThat(e)
        .hasMessageThat()
        .contains("send the ID token in both X-Serverless-Authorization and Authorization");
    assertThat(e.tokenSource()).hasValue(TokenSource.STRIPPED_SERVERLESS);
  }

  // ---- both headers: the Authorization copy of a stripped token (full table: BothHeadersTest) --

  private Map<String, List<String>> bothHeaders(String serverless, String authorization) {
    return Map.of(
        "X-Serverless-Authorization",
        List.of("Bearer " + serverless),
        "authorization",
        List.of("Bearer " + authorization));
  }

  private String stripped(String email) {
    return issuer
        .token()
        .email(email)
        .audience(AUDIENCE)
        .signature(CompactJws.SIGNATURE_REMOVED_BY_GOOGLE)
        .build();
  }

  @Test
  void verify_strippedWithCopy_copyVerifiedThenCachedAndCountedOncePerRequest() throws Exception {
    String copy = issuer.mint(CLIENT, AUDIENCE);
    Map<String, List<String>> headers = bothHeaders(stripped(CLIENT), copy);

    VerifiedCaller first = verifier.verify(headers);
    VerifiedCaller second = verifier.verify(headers);

    assertThat(first.signatureCheck()).isEqualTo(VerifiedCaller.SignatureCheck.VERIFIED);
    assertThat(first.tokenSource()).hasValue(TokenSource.AUTHORIZATION_BESIDE_STRIPPED);
    assertThat(first.principal()).isEqualTo(CLIENT);
    // The copy's second verification is the cache's; the same instance per source, another one
    // when the same token comes alone.
    assertThat(second).isSameInstanceAs(first);
    VerifiedCaller alone = verifier.verify(bearer(copy));
    assertThat(alone.tokenSource()).hasValue(TokenSource.AUTHORIZATION);
    assertThat(verifier.verify(bearer(copy))).isSameInstanceAs(alone);
    assertThat(verifier.verifyToken(copy).tokenSource()).isEmpty();
    VerifierStats stats = verifier.stats();
    assertThat(stats.allowed()).isEqualTo(5);
    assertThat(stats.tokenCacheMisses()).isEqualTo(2); // the stripped token is never cached
  }

  @Test
  void verify_strippedWithCopyOfAnotherCaller_rejectedAsMismatch_withoutNamingEither() {
    CallerRejectedException e =
        assertThrows(
            CallerRejectedException.class,
            () -> verifier.verify(bothHeaders(stripped(STRANGER), issuer.mint(CLIENT, AUDIENCE))));
    assertThat(e.reason()).isEqualTo(Reason.CALLER_MISMATCH);
    assertThat(e.verifiedSubject()).isEmpty();
    assertThat(e).hasMessageThat().doesNotContain(CLIENT);
    assertThat(e).hasMessageThat().doesNotContain(STRANGER);
    assertThat(Reason.CALLER_MISMATCH.category()).isEqualTo(Reason.Category.INVALID_TOKEN);
  }

  @Test
  void verify_strippedCopyAfterACachedVerification_stillMatchedAgainstTheStrippedCaller()
      throws Exception {
    String copy = issuer.mint(CLIENT, AUDIENCE);
    assertThat(verifier.verify(bearer(copy))).isNotNull(); // now cached
    assertThat(rejection(bothHeaders(stripped(STRANGER), copy))).isEqualTo(Reason.CALLER_MISMATCH);
  }

  @Test
  void verify_strippedWithoutSubject_namesNoCaller_rejectedAsMismatch() {
    String noSub =
        issuer
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .removeClaim("sub")
            .signature(CompactJws.SIGNATURE_REMOVED_BY_GOOGLE)
            .build();
    assertThat(rejection(bothHeaders(noSub, issuer.mint(CLIENT, AUDIENCE))))
        .isEqualTo(Reason.CALLER_MISMATCH);
  }

  @Test
  void verify_signatureRemovedByGoogle_whenTrusted_claimsAndAllowlistStillChecked()
      throws Exception {
    try (CallerVerifier trusting = verifierBuilder().trustPlatformVerifiedTokens().build()) {
      String token =
          issuer
              .token()
              .email(CLIENT)
              .audience(AUDIENCE)
              .signature("SIGNATURE_REMOVED_BY_GOOGLE")
              .build();
      VerifiedCaller caller = trusting.verify(bearer(token));
      assertThat(caller.signatureCheck()).isEqualTo(VerifiedCaller.SignatureCheck.TRUSTED_PLATFORM);
      assertThat(caller.principal()).isEqualTo(CLIENT);

      String stranger =
          issuer
              .token()
              .email(STRANGER)
              .audience(AUDIENCE)
              .signature("SIGNATURE_REMOVED_BY_GOOGLE")
              .build();
      assertThat(
              assertThrows(CallerRejectedException.class, () -> trusting.verify(bearer(stranger)))
                  .reason())
          .isEqualTo(Reason.CALLER_NOT_ALLOWED);
      String otherAudience =
          issuer
              .token()
              .email(CLIENT)
              .audience("https://other.example")
              .signature("SIGNATURE_REMOVED_BY_GOOGLE")
              .build();
      assertThat(
              assertThrows(
                      CallerRejectedException.class, () -> trusting.verify(bearer(otherAudience)))
                  .reason())
          .isEqualTo(Reason.WRONG_AUDIENCE);
      String noneAlg =
          issuer
              .token()
              .email(CLIENT)
              .audience(AUDIENCE)
              .header("alg", "none")
              .signature("SIGNATURE_REMOVED_BY_GOOGLE")
              .build();
      assertThat(
              assertThrows(CallerRejectedException.class, () -> trusting.verify(bearer(noneAlg)))
                  .reason())
          .isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
      // A signature that merely starts with the literal is an ordinary (bad) signature.
      String lookalike =
          issuer
              .token()
              .email(CLIENT)
              .audience(AUDIENCE)
              .signature("SIGNATURE_REMOVED_BY_GOOGLEx")
              .build();
      assertThat(
              assertThrows(CallerRejectedException.class, () -> trusting.verify(bearer(lookalike)))
                  .reason())
          .isNotEqualTo(null);
    }
  }

  // ---- the claim rules, wired in (each rule on its own: ClaimRulesTest) ----

  @Test
  void verify_wrongIssuer_rejected() {
    assertThat(
            rejection(
                issuer
                    .token()
                    .email(CLIENT)
                    .audience(AUDIENCE)
                    .issuer("https://evil.example")
                    .build()))
        .isEqualTo(Reason.WRONG_ISSUER);
    assertThat(
            rejection(
                issuer
                    .token()
                    .email(CLIENT)
                    .audience(AUDIENCE)
                    .issuer("https://accounts.google.com/")
                    .build()))
        .isEqualTo(Reason.WRONG_ISSUER);
    assertThat(
            rejection(issuer.token().email(CLIENT).audience(AUDIENCE).removeClaim("iss").build()))
        .isEqualTo(Reason.INVALID_CLAIM);
  }

  @Test
  void verify_expiredBeyondSkew_rejectedAsExpired_withinSkewAccepted() throws Exception {
    String token =
        issuer
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .expiresAt(NOW.minusSeconds(59))
            .issuedAt(NOW.minusSeconds(3659))
            .build();
    assertThat(verifier.verify(bearer(token))).isNotNull();
    String expired =
        issuer
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .expiresAt(NOW.minusSeconds(60))
            .issuedAt(NOW.minusSeconds(3660))
            .build();
    assertThat(rejection(expired)).isEqualTo(Reason.EXPIRED);
  }

  @Test
  void verify_tokenOutlivesItsHour_rejectedAsExpiredOnceTheClockMoves() throws Exception {
    String token = issuer.mint(CLIENT, AUDIENCE);
    assertThat(verifier.verify(bearer(token))).isNotNull();
    clock.advance(Duration.ofMinutes(61));
    assertThat(rejection(token)).isEqualTo(Reason.EXPIRED);
  }

  @Test
  void verify_zeroSkew_expiryExact() throws Exception {
    try (CallerVerifier strict = verifierBuilder().clockSkew(Duration.ZERO).build()) {
      String atNow =
          issuer
              .token()
              .email(CLIENT)
              .audience(AUDIENCE)
              .expiresAt(NOW)
              .issuedAt(NOW.minusSeconds(3600))
              .build();
      assertThat(
              assertThrows(CallerRejectedException.class, () -> strict.verify(bearer(atNow)))
                  .reason())
          .isEqualTo(Reason.EXPIRED);
      String oneLeft =
          issuer.token().email(CLIENT).audience(AUDIENCE).expiresAt(NOW.plusSeconds(1)).build();
      assertThat(strict.verify(bearer(oneLeft))).isNotNull();
    }
  }

  @Test
  void verify_fractionalExpiry_truncatedAndAccepted() throws Exception {
    String token =
        issuer
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .claim("exp", NOW.getEpochSecond() + 600.75)
            .build();
    assertThat(verifier.verify(bearer(token)).expiresAt()).isEqualTo(NOW.plusSeconds(600));
  }

  // ---- the allowlist ----

  @Test
  void verify_stranger_rejectedAsNotAllowed() {
    Reason reason = rejection(issuer.mint(STRANGER, AUDIENCE));
    assertThat(reason).isEqualTo(Reason.CALLER_NOT_ALLOWED);
    assertThat(reason.category()).isEqualTo(Reason.Category.FORBIDDEN);
  }

  /**
   * Issue 12 item 5: a signed token whose email spells the allowlisted one with the Kelvin sign
   * (U+212A, which Unicode lower-cases to {@code k}) is not the allowlisted caller.
   */
  @Test
  void verify_emailWithKelvinSignForK_rejectedAsNotAllowed() throws Exception {
    try (CallerVerifier kate =
        verifierBuilder()
            .allowlist(ServiceAccountAllowlist.parse("kate@client-project.iam.gserviceaccount.com"))
            .build()) {
      String lookalike = issuer.mint("\u212Aate@client-project.iam.gserviceaccount.com", AUDIENCE);
      CallerRejectedException e =
          assertThrows(CallerRejectedException.class, () -> kate.verify(bearer(lookalike)));
      assertThat(e.reason()).isEqualTo(Reason.CALLER_NOT_ALLOWED);
      String kateToken = issuer.mint("kate@client-project.iam.gserviceaccount.com", AUDIENCE);
      assertThat(kate.verify(bearer(kateToken)).principal())
          .isEqualTo("kate@client-project.iam.gserviceaccount.com");
    }
  }

  /** Issue 12 item 6: the allowlist's refusal says who; no other rejection carries anyone. */
  @Test
  void verify_stranger_rejectionCarriesVerifiedIdentity_otherRejectionsNone() {
    CallerRejectedException refused =
        assertThrows(
            CallerRejectedException.class,
            () -> verifier.verify(bearer(issuer.mint(STRANGER, AUDIENCE))));
    assertThat(refused.verifiedSubject()).hasValue(TestIssuer.uniqueIdOf(STRANGER));
    assertThat(refused.verifiedEmail()).hasValue(STRANGER);

    CallerRejectedException unverifiedEmail =
        assertThrows(
            CallerRejectedException.class,
            () ->
                verifier.verify(
                    bearer(
                        issuer
                            .token()
                            .email(STRANGER)
                            .audience(AUDIENCE)
                            .claim("email_verified", false)
                            .build())));
    assertThat(unverifiedEmail.verifiedSubject()).hasValue(TestIssuer.uniqueIdOf(STRANGER));
    assertThat(unverifiedEmail.verifiedEmail()).isEmpty();

    CallerRejectedException wrongAudience =
        assertThrows(
            CallerRejectedException.class,
            () -> verifier.verify(bearer(issuer.mint(STRANGER, "https://elsewhere.example"))));
    assertThat(wrongAudience.verifiedSubject()).isEmpty();
    assertThat(wrongAudience.verifiedEmail()).isEmpty();
  }

  @Test
  void verify_emailNotVerified_rejectedAsEmailNotVerified() {
    assertThat(
            rejection(
                issuer
                    .token()
                    .email(CLIENT)
                    .audience(AUDIENCE)
                    .claim("email_verified", false)
                    .build()))
        .isEqualTo(Reason.EMAIL_NOT_VERIFIED);
    assertThat(
            rejection(
                issuer
                    .token()
                    .email(CLIENT)
                    .audience(AUDIENCE)
                    .removeClaim("email_verified")
                    .build()))
        .isEqualTo(Reason.EMAIL_NOT_VERIFIED);
    assertThat(
            rejection(
                issuer
                    .token()
                    .email(CLIENT)
                    .audience(AUDIENCE)
                    .claim("email_verified", "yes")
                    .build()))
        .isEqualTo(Reason.EMAIL_NOT_VERIFIED);
  }

  @Test
  void verify_emailVerifiedAsString_accepted() throws Exception {
    String token =
        issuer.token().email(CLIENT).audience(AUDIENCE).claim("email_verified", "true").build();
    assertThat(verifier.verify(bearer(token)).email()).hasValue(CLIENT);
  }

  @Test
  void verify_tokenWithoutEmail_acceptedOnlyByUniqueId() throws Exception {
    String standardFormat = issuer.token().email(CLIENT).audience(AUDIENCE).withoutEmail().build();
    assertThat(rejection(standardFormat)).isEqualTo(Reason.CALLER_NOT_ALLOWED);

    try (CallerVerifier byId =
        verifierBuilder()
            .allowlist(ServiceAccountAllowlist.parse(TestIssuer.uniqueIdOf(CLIENT)))
            .build()) {
      VerifiedCaller caller = byId.verify(bearer(standardFormat));
      assertThat(caller.email()).isEmpty();
      assertThat(caller.principal()).isEqualTo(TestIssuer.uniqueIdOf(CLIENT));
    }
  }

  @Test
  void verify_recreatedAccountWithSameEmail_notMatchedByOldUniqueId() {
    // The account was deleted and recreated: same email, new numeric ID. An ID entry keeps it out.
    try (CallerVerifier byId =
        verifierBuilder()
            .allowlist(ServiceAccountAllowlist.parse(TestIssuer.uniqueIdOf(CLIENT)))
            .build()) {
      String recreated =
          issuer.token().email(CLIENT).subject("999999999999999999999").audience(AUDIENCE).build();
      assertThat(
              assertThrows(CallerRejectedException.class, () -> byId.verify(bearer(recreated)))
                  .reason())
          .isEqualTo(Reason.CALLER_NOT_ALLOWED);
    }
  }

  // ---- keys ----

  @Test
  void verify_keyEndpointDownFromTheStart_rejectedAsKeysUnavailable() {
    issuer.jwks().respondWith(500, "{\"error\":\"down\"}");
    Reason reason = rejection(issuer.mint(CLIENT, AUDIENCE));
    assertThat(reason).isEqualTo(Reason.KEYS_UNAVAILABLE);
    assertThat(reason.category()).isEqualTo(Reason.Category.UNAVAILABLE);
  }

  @Test
  void verify_rotatedKey_acceptedOnceTheRefetchIntervalAllows() throws Exception {
    assertThat(verifier.verify(bearer(issuer.mint(CLIENT, AUDIENCE)))).isNotNull();
    issuer.rotate();
    String signedWithNewKey = issuer.mint(CLIENT, AUDIENCE);
    // Within 10 s of the last fetch an unknown kid is not worth another fetch (rate limit).
    assertThat(rejection(signedWithNewKey)).isEqualTo(Reason.UNKNOWN_KEY_ID);
    clock.advance(Duration.ofSeconds(10));
    assertThat(verifier.verify(bearer(signedWithNewKey))).isNotNull();
    assertThat(issuer.jwks().requestCount()).isEqualTo(2);
  }

  // ---- the builder is strict ----

  @Test
  void build_withoutAudience_refusedNamingIt() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () ->
                CallerVerifier.builder().allowlist(ServiceAccountAllowlist.parse(CLIENT)).build());
    assertThat(e).hasMessageThat().contains("audience");
  }

  @Test
  void build_withoutAllowlist_refusedNamingIt() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> CallerVerifier.builder().expectedAudiences(AUDIENCE).build());
    assertThat(e).hasMessageThat().contains("allowlist");
  }

  @Test
  void builder_rejectsUnsafeSettings() {
    CallerVerifier.Builder builder = CallerVerifier.builder();
    assertThrows(IllegalArgumentException.class, () -> builder.clockSkew(Duration.ofMinutes(6)));
    assertThrows(IllegalArgumentException.class, () -> builder.clockSkew(Duration.ofSeconds(-1)));
    assertThrows(IllegalArgumentException.class, () -> builder.expectedAudiences(""));
    assertThrows(IllegalArgumentException.class, () -> builder.expectedAudiences(" " + AUDIENCE));
    assertThrows(IllegalArgumentException.class, () -> builder.issuers());
    assertThrows(
        IllegalArgumentException.class,
        () -> builder.jwksUri(java.net.URI.create("http://keys.example/certs")));
    builder.jwksUri(java.net.URI.create("http://127.0.0.1:9/certs")); // loopback: tests, local runs
  }
}
