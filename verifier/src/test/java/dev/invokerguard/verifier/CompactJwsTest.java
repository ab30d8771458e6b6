package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.testing.TokenBuilder;
import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The compact JWS steps on their own ({@link CompactJws}): the split, the header rules, the
 * removed-signature case and RS256, with real keys from {@link TestIssuer} and no key cache.
 */
class CompactJwsTest {
  static final String AUDIENCE = "https://europe-west1-host-project.cloudfunctions.net/api";
  static final String CLIENT = "api-client@client-project.iam.gserviceaccount.com";
  static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";

  private TestIssuer issuer;

  @BeforeEach
  void setUp() {
    issuer = TestIssuer.builder().clock(new MutableClock(Instant.now())).start();
  }

  @AfterEach
  void tearDown() {
    issuer.close();
  }

  /**
   * Runs the steps as the pipeline does, with the issuer's key for the kid the header names; the
   * first failing step decides.
   */
  private Reason rejection(String token) {
    return assertThrows(
            CallerRejectedException.class,
            () -> {
              CompactJws jws = CompactJws.split(token);
              String kid = jws.checkHeader();
              if (!jws.signatureRemoved()) {
                jws.verifySignature(issuer.publicKey(kid));
              }
              jws.claims();
            })
        .reason();
  }

  private TokenBuilder client() {
    return issuer.token().email(CLIENT).audience(AUDIENCE);
  }

  @Test
  void validToken_passesEveryStep_kidAndClaimsRead() throws Exception {
    CompactJws jws = CompactJws.split(issuer.mint(CLIENT, AUDIENCE));
    String kid = jws.checkHeader();
    assertThat(kid).isEqualTo(issuer.activeKeyId());
    assertThat(jws.signatureRemoved()).isFalse();
    jws.verifySignature(issuer.publicKey(kid));
    assertThat(jws.claims().email()).isEqualTo(CLIENT);
  }

  // ---- the split ----

  @ParameterizedTest
  @ValueSource(
      strings = {
        "abc",
        "abc.def",
        "a.b.c.d",
        "..",
        "eyJhbGciOiJSUzI1NiJ9..sig",
        "!!!.eyJ9.sig",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ==.e30.c2ln"
      })
  void notACompactJws_rejectedAsMalformed(String token) {
    assertThat(rejection(token)).isEqualTo(Reason.MALFORMED_TOKEN);
  }

  @Test
  void overTheSizeCap_rejectedAsMalformedBeforeAnyDecoding() {
    String huge = "a".repeat(BearerHeaders.MAX_HEADER_CHARS) + ".b.c";
    assertThat(assertThrows(CallerRejectedException.class, () -> CompactJws.split(huge)).reason())
        .isEqualTo(Reason.MALFORMED_TOKEN);
  }

  // ---- the header (RFC 8725 section 3.1 and 2.1) ----

  @ParameterizedTest
  @ValueSource(
      strings = {
        "[\"alg\",\"RS256\"]",
        "{'alg':'RS256','kid':'k'}",
        "{alg:\"RS256\"}",
        "{\"alg\":\"RS256\",\"kid\":\"k\"} {}",
        "{\"alg\":\"RS256\",\"kid\":\"k\",}",
        "\"RS256\""
      })
  void headerNotAStrictJsonObject_rejectedAsMalformed(String headerJson) {
    assertThat(rejection(client().rawHeaderJson(headerJson).build()))
        .isEqualTo(Reason.MALFORMED_TOKEN);
  }

  @Test
  void duplicateHeaderMember_rejectedAsMalformed() {
    String headerJson =
        "{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"" + issuer.activeKeyId() + "\"}";
    assertThat(rejection(client().rawHeaderJson(headerJson).build()))
        .isEqualTo(Reason.MALFORMED_TOKEN);
  }

  @Test
  void algNone_rejectedAsUnsupportedAlgorithm() {
    String token = client().header("alg", "none").build();
    String unsigned = token.substring(0, token.lastIndexOf('.') + 1);
    assertThat(rejection(unsigned)).isEqualTo(Reason.MALFORMED_TOKEN);
    assertThat(rejection(token)).isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
    assertThat(rejection(client().removeHeader("alg").build()))
        .isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
  }

  @Test
  void hs256SignedWithThePublicKey_rejectedAsUnsupportedAlgorithm() throws Exception {
    // The classic key-confusion attack: HMAC keyed with the RSA public key the verifier trusts.
    String unsigned = client().header("alg", "HS256").build();
    String signingInput = unsigned.substring(0, unsigned.lastIndexOf('.'));
    Mac hmac = Mac.getInstance("HmacSHA256");
    hmac.init(new SecretKeySpec(issuer.publicKey(issuer.activeKeyId()).getEncoded(), "HmacSHA256"));
    String mac =
        Base64.getUrlEncoder()
            .withoutPadding()
            .encodeToString(hmac.doFinal(signingInput.getBytes(StandardCharsets.US_ASCII)));
    assertThat(rejection(signingInput + "." + mac)).isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
  }

  @ParameterizedTest
  @ValueSource(strings = {"RS384", "RS512", "PS256", "ES256", "rs256", "RS256 ", "EdDSA"})
  void otherAlgorithm_rejectedAsUnsupportedAlgorithm(String alg) {
    assertThat(rejection(client().header("alg", alg).build()))
        .isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
  }

  @Test
  void algNotAString_rejectedAsMalformed() {
    assertThat(rejection(client().header("alg", 256).build())).isEqualTo(Reason.MALFORMED_TOKEN);
  }

  @Test
  void critHeader_rejectedAsCritical() {
    String token = client().header("crit", List.of("exp")).header("exp", 1).build();
    assertThat(rejection(token)).isEqualTo(Reason.CRITICAL_HEADER);
  }

  @Test
  void typOtherThanJwt_rejected_jwtInAnyCaseOrAbsentAccepted() throws Exception {
    assertThat(rejection(client().header("typ", "at+jwt").build()))
        .isEqualTo(Reason.UNSUPPORTED_TYPE);
    assertThat(CompactJws.split(client().header("typ", "jwt").build()).checkHeader())
        .isEqualTo(issuer.activeKeyId());
    assertThat(CompactJws.split(client().removeHeader("typ").build()).checkHeader())
        .isEqualTo(issuer.activeKeyId());
  }

  @Test
  void noKid_rejectedAsMissingKeyId() {
    assertThat(rejection(client().removeHeader("kid").build())).isEqualTo(Reason.MISSING_KEY_ID);
  }

  // ---- the removed signature ----

  @Test
  void signatureRemoved_onlyWhenTheWholePartIsTheLiteral() throws Exception {
    String stripped = client().signature(CompactJws.SIGNATURE_REMOVED_BY_GOOGLE).build();
    assertThat(CompactJws.split(stripped).signatureRemoved()).isTrue();
    assertThat(CompactJws.looksStripped(stripped)).isTrue();

    String lookalike = client().signature(CompactJws.SIGNATURE_REMOVED_BY_GOOGLE + "x").build();
    assertThat(CompactJws.split(lookalike).signatureRemoved()).isFalse();
    assertThat(CompactJws.looksStripped(lookalike)).isFalse();
    assertThat(rejection(lookalike)).isAnyOf(Reason.BAD_SIGNATURE, Reason.MALFORMED_TOKEN);

    String prefixed = client().signature("x" + CompactJws.SIGNATURE_REMOVED_BY_GOOGLE).build();
    assertThat(CompactJws.split(prefixed).signatureRemoved()).isFalse();
    assertThat(CompactJws.looksStripped(prefixed)).isFalse();
    assertThat(CompactJws.looksStripped(CompactJws.SIGNATURE_REMOVED_BY_GOOGLE)).isFalse();
    assertThat(CompactJws.looksStripped(issuer.mint(CLIENT, AUDIENCE))).isFalse();
  }

  // ---- RS256 ----

  @Test
  void validSignatureFromAnotherKeyUnderAKnownKid_rejectedAsBadSignature() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    String token = client().signWith(generator.generateKeyPair().getPrivate()).build();
    assertThat(rejection(token)).isEqualTo(Reason.BAD_SIGNATURE);
  }

  @Test
  void signedWithAnotherPublishedKeyButNamingTheFirst_rejectedAsBadSignature() {
    List<String> kids = issuer.keyIds();
    assertThat(kids.size()).isAtLeast(2);
    String token = client().signWithKey(kids.get(1)).keyId(kids.get(0)).build();
    assertThat(rejection(token)).isEqualTo(Reason.BAD_SIGNATURE);
  }

  @Test
  void payloadSwappedAfterSigning_rejectedAsBadSignature() {
    String[] mine = issuer.mint(STRANGER, AUDIENCE).split("\\.");
    String[] theirs = issuer.mint(CLIENT, AUDIENCE).split("\\.");
    assertThat(rejection(mine[0] + "." + theirs[1] + "." + mine[2]))
        .isEqualTo(Reason.BAD_SIGNATURE);
  }

  @Test
  void truncatedSignature_rejected() {
    String token = issuer.mint(CLIENT, AUDIENCE);
    int dot = token.lastIndexOf('.');
    byte[] signature = Base64.getUrlDecoder().decode(token.substring(dot + 1));
    String shorter =
        Base64.getUrlEncoder().withoutPadding().encodeToString(Arrays.copyOf(signature, 253));
    assertThat(rejection(token.substring(0, dot + 1) + shorter)).isEqualTo(Reason.BAD_SIGNATURE);
    assertThat(rejection(token.substring(0, token.length() - 1)))
        .isIn(List.of(Reason.BAD_SIGNATURE, Reason.MALFORMED_TOKEN));
    assertThat(rejection(token.substring(0, dot + 1))).isEqualTo(Reason.MALFORMED_TOKEN);
  }

  @Test
  void signatureRespelledWithNonCanonicalTrailingBits_rejectedAsMalformed() {
    String token = issuer.mint(CLIENT, AUDIENCE);
    // A 256-byte signature is 342 base64url characters; the last carries 2 bits and 4 zero bits.
    char last = token.charAt(token.length() - 1);
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char respelled = alphabet.charAt(alphabet.indexOf(last) | 1);
    assertThat(respelled).isNotEqualTo(last);
    assertThat(rejection(token.substring(0, token.length() - 1) + respelled))
        .isEqualTo(Reason.MALFORMED_TOKEN);
  }

  // ---- the payload ----

  @Test
  void duplicateClaim_rejectedAsMalformed() {
    long now = Instant.now().getEpochSecond();
    String payload =
        "{\"iss\":\"https://accounts.google.com\",\"aud\":\"https://evil.example\",\"aud\":\""
            + AUDIENCE
            + "\",\"sub\":\"1\",\"iat\":"
            + now
            + ",\"exp\":"
            + (now + 3600)
            + "}";
    assertThat(rejection(issuer.token().rawPayloadJson(payload).build()))
        .isEqualTo(Reason.MALFORMED_TOKEN);
  }

  @Test
  void payloadNotUtf8_rejectedAsMalformed() throws Exception {
    String[] parts = issuer.mint(CLIENT, AUDIENCE).split("\\.");
    String badPayload =
        Base64.getUrlEncoder().withoutPadding().encodeToString(new byte[] {'{', (byte) 0xC3, '}'});
    CompactJws jws = CompactJws.split(parts[0] + "." + badPayload + "." + parts[2]);
    jws.checkHeader();
    assertThat(assertThrows(CallerRejectedException.class, jws::claims).reason())
        .isEqualTo(Reason.MALFORMED_TOKEN);
  }
}
