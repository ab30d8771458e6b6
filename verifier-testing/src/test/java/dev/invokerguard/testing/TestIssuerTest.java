package dev.invokerguard.testing;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TestIssuerTest {

  private static final String EMAIL = "caller@project-1.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://fn-abc-uc.a.run.app";
  private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");

  private final MutableClock clock = new MutableClock(NOW);
  private TestIssuer issuer;

  @BeforeEach
  void startIssuer() {
    issuer = TestIssuer.builder().clock(clock).start();
  }

  @AfterEach
  void closeIssuer() {
    issuer.close();
  }

  @Test
  void mint_signatureVerifiesWithActiveKeyFromServedJwks() throws Exception {
    String token = issuer.mint(EMAIL, AUDIENCE);

    Map<String, RSAPublicKey> served = Jwt.fetchKeys(issuer.jwksUri());
    String kid = Jwt.header(token).get("kid").getAsString();

    assertThat(kid).isEqualTo(issuer.activeKeyId());
    assertThat(Jwt.signatureValid(token, served.get(kid))).isTrue();
  }

  @Test
  void mint_signatureDoesNotVerifyWithTheOtherPublishedKey() throws Exception {
    String token = issuer.mint(EMAIL, AUDIENCE);
    String otherKid = issuer.keyIds().get(1);

    assertThat(Jwt.signatureValid(token, Jwt.fetchKeys(issuer.jwksUri()).get(otherKid))).isFalse();
  }

  @Test
  void mint_hasGoogleShapedHeaderAndClaims() {
    String token = issuer.mint(EMAIL, AUDIENCE);

    JsonObject header = Jwt.header(token);
    assertThat(header.keySet()).containsExactly("alg", "kid", "typ").inOrder();
    assertThat(header.get("alg").getAsString()).isEqualTo("RS256");
    assertThat(header.get("typ").getAsString()).isEqualTo("JWT");

    JsonObject payload = Jwt.payload(token);
    assertThat(payload.keySet())
        .containsExactly("aud", "azp", "email", "email_verified", "exp", "iat", "iss", "sub");
    assertThat(payload.get("iss").getAsString()).isEqualTo("https://accounts.google.com");
    assertThat(payload.get("aud").getAsString()).isEqualTo(AUDIENCE);
    assertThat(payload.get("azp").getAsString()).isEqualTo(EMAIL);
    assertThat(payload.get("email").getAsString()).isEqualTo(EMAIL);
    assertThat(payload.get("email_verified").getAsJsonPrimitive().isBoolean()).isTrue();
    assertThat(payload.get("email_verified").getAsBoolean()).isTrue();
    assertThat(payload.get("sub").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(EMAIL));
    assertThat(payload.get("iat").getAsLong()).isEqualTo(NOW.getEpochSecond());
    assertThat(payload.get("exp").getAsLong()).isEqualTo(NOW.getEpochSecond() + 3600);
  }

  @Test
  void mint_takesTimesFromTheInjectedClock() {
    clock.advance(java.time.Duration.ofMinutes(90));

    JsonObject payload = Jwt.payload(issuer.mint(EMAIL, AUDIENCE));

    assertThat(payload.get("iat").getAsLong()).isEqualTo(NOW.getEpochSecond() + 5400);
  }

  @Test
  void uniqueIdOf_isDeterministic21DigitsNotStartingWithZero() {
    String id = TestIssuer.uniqueIdOf(EMAIL);

    assertThat(id).matches("[1-9][0-9]{20}");
    assertThat(TestIssuer.uniqueIdOf(EMAIL)).isEqualTo(id);
    assertThat(TestIssuer.uniqueIdOf(EMAIL.toUpperCase(java.util.Locale.ROOT))).isEqualTo(id);
    assertThat(TestIssuer.uniqueIdOf("other@project-1.iam.gserviceaccount.com")).isNotEqualTo(id);
  }

  @Test
  void builder_customIssuerAndKeyCount_usedInTokensAndJwks() throws Exception {
    try (TestIssuer custom =
        TestIssuer.builder().issuer("accounts.google.com").keyCount(3).start()) {
      assertThat(custom.keyIds()).hasSize(3);
      assertThat(Jwt.fetchKeys(custom.jwksUri()).keySet())
          .containsExactlyElementsIn(custom.keyIds())
          .inOrder();
      assertThat(Jwt.payload(custom.mint(EMAIL, AUDIENCE)).get("iss").getAsString())
          .isEqualTo("accounts.google.com");
    }
  }

  @Test
  void builder_zeroKeys_refused() {
    assertThrows(IllegalStateException.class, () -> TestIssuer.builder().keyCount(0).start());
  }

  @Test
  void jwksUri_isLoopbackWithGooglesPath() {
    assertThat(issuer.jwksUri().getHost()).isEqualTo("127.0.0.1");
    assertThat(issuer.jwksUri().getPort()).isGreaterThan(0);
    assertThat(issuer.jwksUri().getPath()).isEqualTo("/oauth2/v3/certs");
  }

  @Test
  void jwksEndpoint_otherPaths_notFound() throws Exception {
    var base = issuer.jwksUri();

    assertThat(Jwt.get(base.resolve("/oauth2/v3/certs/extra")).statusCode()).isEqualTo(404);
    assertThat(Jwt.get(base.resolve("/oauth2/v1/certs")).statusCode()).isEqualTo(404);
    assertThat(issuer.jwks().requestCount()).isEqualTo(0);
  }

  @Test
  void jwks_servesGoogleMemberSetWithoutPadding() throws Exception {
    JsonArray keys =
        JsonParser.parseString(Jwt.get(issuer.jwksUri()).body())
            .getAsJsonObject()
            .getAsJsonArray("keys");

    assertThat(keys.size()).isEqualTo(2);
    for (var element : keys) {
      JsonObject jwk = element.getAsJsonObject();
      assertThat(jwk.keySet()).containsExactly("kty", "alg", "use", "kid", "n", "e");
      assertThat(jwk.get("e").getAsString()).isEqualTo("AQAB");
      // 2048-bit modulus = 256 bytes = 342 base64url characters without padding, no sign byte.
      assertThat(jwk.get("n").getAsString()).hasLength(342);
    }
    assertThat(issuer.publicKey(issuer.activeKeyId()).getModulus().bitLength()).isEqualTo(2048);
  }

  @Test
  void token_claimOverridesAndRemovals_appearInPayload() {
    String token =
        issuer
            .token()
            .email(EMAIL)
            .audiences(AUDIENCE, "other")
            .issuer("https://evil.example")
            .subject("123")
            .notBefore(NOW.plusSeconds(10))
            .expiresAt(NOW.plusSeconds(20))
            .issuedAt(NOW.minusSeconds(5))
            .claim("email_verified", "true")
            .claim("nested", Map.of("a", List.of(1, true, "x")))
            .claim("json", JsonParser.parseString("{\"k\":null}"))
            .claim("nothing", null)
            .removeClaim("azp")
            .build();

    JsonObject payload = Jwt.payload(token);
    assertThat(payload.get("aud").isJsonArray()).isTrue();
    assertThat(payload.getAsJsonArray("aud").toString())
        .isEqualTo("[\"" + AUDIENCE + "\",\"other\"]");
    assertThat(payload.get("iss").getAsString()).isEqualTo("https://evil.example");
    assertThat(payload.get("sub").getAsString()).isEqualTo("123");
    assertThat(payload.get("nbf").getAsLong()).isEqualTo(NOW.getEpochSecond() + 10);
    assertThat(payload.get("exp").getAsLong()).isEqualTo(NOW.getEpochSecond() + 20);
    assertThat(payload.get("iat").getAsLong()).isEqualTo(NOW.getEpochSecond() - 5);
    assertThat(payload.get("email_verified").getAsJsonPrimitive().isString()).isTrue();
    assertThat(payload.get("nested").toString()).isEqualTo("{\"a\":[1,true,\"x\"]}");
    assertThat(payload.get("json").toString()).isEqualTo("{\"k\":null}");
    assertThat(payload.get("nothing").isJsonNull()).isTrue();
    assertThat(payload.has("azp")).isFalse();
  }

  @Test
  void token_claimAfterRemoveClaim_putsItBack() {
    JsonObject payload =
        Jwt.payload(
            issuer
                .token()
                .email(EMAIL)
                .audience(AUDIENCE)
                .removeClaim("exp")
                .claim("exp", "soon")
                .build());

    assertThat(payload.get("exp").getAsString()).isEqualTo("soon");
  }

  @Test
  void token_removeClaimAud_buildsWithoutAudience() {
    assertThat(Jwt.payload(issuer.token().email(EMAIL).removeClaim("aud").build()).has("aud"))
        .isFalse();
  }

  @Test
  void token_withoutEmailOrAudience_refusedAtBuild() {
    assertThrows(IllegalStateException.class, () -> issuer.token().audience(AUDIENCE).build());
    assertThrows(IllegalStateException.class, () -> issuer.token().email(EMAIL).build());
  }

  @Test
  void token_withoutEmail_dropsEmailClaimsLikeStandardFormat() throws Exception {
    String token = issuer.token().email(EMAIL).audience(AUDIENCE).withoutEmail().build();

    JsonObject payload = Jwt.payload(token);
    assertThat(payload.has("email")).isFalse();
    assertThat(payload.has("email_verified")).isFalse();
    assertThat(payload.get("sub").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(EMAIL));
    assertThat(payload.get("azp").getAsString()).isEqualTo(TestIssuer.uniqueIdOf(EMAIL));
    assertThat(Jwt.signatureValid(token, issuer.publicKey(issuer.activeKeyId()))).isTrue();
  }

  @Test
  void token_headerOverridesAndRemovals_appearInHeaderAndStaySigned() throws Exception {
    String token =
        issuer
            .token()
            .email(EMAIL)
            .audience(AUDIENCE)
            .header("alg", "none")
            .header("crit", List.of("exp"))
            .removeHeader("typ")
            .build();

    JsonObject header = Jwt.header(token);
    assertThat(header.get("alg").getAsString()).isEqualTo("none");
    assertThat(header.get("crit").toString()).isEqualTo("[\"exp\"]");
    assertThat(header.has("typ")).isFalse();
    assertThat(Jwt.signatureValid(token, issuer.publicKey(issuer.activeKeyId()))).isTrue();
  }

  @Test
  void token_keyId_changesHeaderButNotSigningKey() throws Exception {
    String token = issuer.token().email(EMAIL).audience(AUDIENCE).keyId("made-up").build();

    assertThat(Jwt.header(token).get("kid").getAsString()).isEqualTo("made-up");
    assertThat(Jwt.signatureValid(token, issuer.publicKey(issuer.activeKeyId()))).isTrue();
  }

  @Test
  void token_signWithKey_signsWithThatKeyAndNamesIt() throws Exception {
    String second = issuer.keyIds().get(1);

    String token = issuer.token().email(EMAIL).audience(AUDIENCE).signWithKey(second).build();

    assertThat(Jwt.header(token).get("kid").getAsString()).isEqualTo(second);
    assertThat(Jwt.signatureValid(token, issuer.publicKey(second))).isTrue();
  }

  @Test
  void token_signWithKey_unknownKid_refused() {
    assertThrows(NoSuchElementException.class, () -> issuer.token().signWithKey("nope"));
  }

  @Test
  void token_signWithForeignKey_keepsKnownKidButSignatureFailsWithIt() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    var foreign = generator.generateKeyPair();

    String token =
        issuer.token().email(EMAIL).audience(AUDIENCE).signWith(foreign.getPrivate()).build();

    assertThat(Jwt.header(token).get("kid").getAsString()).isEqualTo(issuer.activeKeyId());
    assertThat(Jwt.signatureValid(token, issuer.publicKey(issuer.activeKeyId()))).isFalse();
    assertThat(Jwt.signatureValid(token, foreign.getPublic())).isTrue();
  }

  @Test
  void token_signature_replacesSignaturePartVerbatim() {
    String token =
        issuer
            .token()
            .email(EMAIL)
            .audience(AUDIENCE)
            .signature("SIGNATURE_REMOVED_BY_GOOGLE")
            .build();

    assertThat(Jwt.signaturePart(token)).isEqualTo("SIGNATURE_REMOVED_BY_GOOGLE");
    assertThat(Jwt.payload(token).get("email").getAsString()).isEqualTo(EMAIL);
  }

  @Test
  void token_rawJson_isSignedVerbatim() throws Exception {
    String header = "{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"" + issuer.activeKeyId() + "\"}";
    String payload = "[\"not\",\"an\",\"object\"]";

    String token = issuer.token().rawHeaderJson(header).rawPayloadJson(payload).build();

    assertThat(Jwt.decodePart(token, 0)).isEqualTo(header);
    assertThat(Jwt.decodePart(token, 1)).isEqualTo(payload);
    assertThat(Jwt.signatureValid(token, issuer.publicKey(issuer.activeKeyId()))).isTrue();
  }

  @Test
  void token_unsupportedValueType_refused() {
    assertThrows(IllegalArgumentException.class, () -> issuer.token().claim("x", new Object()));
  }

  @Test
  void rotate_publishesNewActiveKeyAndKeepsOldOne() throws Exception {
    String oldActive = issuer.activeKeyId();
    List<String> before = issuer.keyIds();

    String rotated = issuer.rotate();

    assertThat(issuer.activeKeyId()).isEqualTo(rotated);
    assertThat(rotated).isNotIn(before);
    Map<String, RSAPublicKey> served = Jwt.fetchKeys(issuer.jwksUri());
    assertThat(served.keySet()).containsAtLeast(oldActive, rotated);
    assertThat(served).hasSize(3);
    String token = issuer.mint(EMAIL, AUDIENCE);
    assertThat(Jwt.header(token).get("kid").getAsString()).isEqualTo(rotated);
    assertThat(Jwt.signatureValid(token, served.get(rotated))).isTrue();
  }

  @Test
  void unpublish_removesKeyFromJwksButItStillSigns() throws Exception {
    String active = issuer.activeKeyId();

    issuer.unpublish(active);

    assertThat(issuer.keyIds()).doesNotContain(active);
    assertThat(Jwt.fetchKeys(issuer.jwksUri())).doesNotContainKey(active);
    String token = issuer.mint(EMAIL, AUDIENCE);
    assertThat(Jwt.header(token).get("kid").getAsString()).isEqualTo(active);
    assertThat(Jwt.signatureValid(token, issuer.publicKey(active))).isTrue();

    issuer.publish(active);
    assertThat(Jwt.fetchKeys(issuer.jwksUri())).containsKey(active);
  }

  @Test
  void addKeyAndActivate_publishFirstThenSignWithIt() throws Exception {
    String added = issuer.addKey();
    assertThat(issuer.activeKeyId()).isNotEqualTo(added);
    assertThat(Jwt.fetchKeys(issuer.jwksUri())).containsKey(added);

    issuer.activate(added);

    assertThat(Jwt.header(issuer.mint(EMAIL, AUDIENCE)).get("kid").getAsString()).isEqualTo(added);
  }

  @Test
  void jwksJson_matchesWhatIsServed() throws Exception {
    assertThat(issuer.jwksJson()).isEqualTo(Jwt.get(issuer.jwksUri()).body());
  }

  @Test
  void close_freesThePort() throws Exception {
    var uri = issuer.jwksUri();
    issuer.close();

    assertThrows(java.io.IOException.class, () -> Jwt.get(uri));
  }
}
