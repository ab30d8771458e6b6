package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Where keys may come from (RFC 8725 sections 3.2, 3.4 and 3.10): only from the configured key set,
 * never from the token itself, and never a weak one. Real key cache, real HTTP on loopback.
 */
class KeyTrustTest {
  private static final String AUDIENCE = "https://europe-west1-host.cloudfunctions.net/api";
  private static final String CLIENT = "api-client@client-project.iam.gserviceaccount.com";

  private final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T08:00:00Z"));
  private TestIssuer google;
  private TestIssuer attacker;
  private CallerVerifier verifier;

  @BeforeEach
  void setUp() {
    google = TestIssuer.builder().clock(clock).keyCount(1).start();
    attacker = TestIssuer.builder().clock(clock).keyCount(1).start();
    verifier =
        CallerVerifier.builder()
            .expectedAudiences(AUDIENCE)
            .allowlist(ServiceAccountAllowlist.parse(CLIENT))
            .clock(clock)
            .jwksUri(google.jwksUri())
            .keyFetchTimeout(Duration.ofSeconds(2))
            .build();
  }

  @AfterEach
  void tearDown() {
    verifier.close();
    attacker.close();
    google.close();
  }

  @Test
  void verify_tokenPointingAtItsOwnKeys_keysNeverFetchedNorUsed() throws Exception {
    JsonObject attackerJwk =
        JsonParser.parseString(attacker.jwksJson())
            .getAsJsonObject()
            .getAsJsonArray("keys")
            .get(0)
            .getAsJsonObject();
    String selfVouching =
        attacker
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .header("jku", attacker.jwksUri().toString())
            .header("x5u", attacker.jwksUri().toString())
            .header("jwk", attackerJwk)
            .build();
    String underGooglesKid =
        attacker
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .keyId(google.activeKeyId())
            .header("jku", attacker.jwksUri().toString())
            .header("jwk", attackerJwk)
            .build();

    assertThat(reason(selfVouching)).isEqualTo(Reason.UNKNOWN_KEY_ID);
    assertThat(reason(underGooglesKid)).isEqualTo(Reason.BAD_SIGNATURE);
    assertThat(attacker.jwks().requestCount()).isEqualTo(0);
    // The same claims signed by the configured signer pass: only the key's origin differed.
    assertThat(verifier.verifyToken(google.mint(CLIENT, AUDIENCE)).principal()).isEqualTo(CLIENT);
  }

  @Test
  void verify_keySetWithA1024BitKey_refusedWhole_keysUnavailable() throws Exception {
    KeyPair weak = rsa(1024);
    String signedWithWeakKey =
        google
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .keyId("weak")
            .signWith(weak.getPrivate())
            .build();
    google.jwks().respondWith(200, withExtraKey(google.jwksJson(), "weak", weak, null));

    assertThat(reason(signedWithWeakKey)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    // Refused whole: a set with one bad key says something is wrong upstream.
    assertThat(reason(google.mint(CLIENT, AUDIENCE))).isEqualTo(Reason.KEYS_UNAVAILABLE);
  }

  @Test
  void verify_keySetWithExponentOne_refusedWhole_keysUnavailable() throws Exception {
    // e = 1 makes "signature^e mod n" the identity: anyone could forge.
    google
        .jwks()
        .respondWith(200, withExtraKey(google.jwksJson(), "identity", rsa(2048), BigInteger.ONE));

    assertThat(reason(google.mint(CLIENT, AUDIENCE))).isEqualTo(Reason.KEYS_UNAVAILABLE);
  }

  @Test
  void verify_keyWhoseKeyOpsLackVerify_neverUsed() throws Exception {
    KeyPair encryptOnly = rsa(2048);
    KeyPair verifyToo = rsa(2048);
    JsonObject document = JsonParser.parseString(google.jwksJson()).getAsJsonObject();
    document.getAsJsonArray("keys").add(withKeyOps("encrypt-only", encryptOnly, "encrypt"));
    document.getAsJsonArray("keys").add(withKeyOps("verify-too", verifyToo, "sign", "verify"));
    google.jwks().respondWith(200, document.toString());

    // The set loaded (it holds usable keys) and lacks the restricted key: judged, not unavailable.
    assertThat(reason(signedWith("encrypt-only", encryptOnly))).isEqualTo(Reason.UNKNOWN_KEY_ID);
    assertThat(verifier.verifyToken(signedWith("verify-too", verifyToo)).principal())
        .isEqualTo(CLIENT);
    assertThat(verifier.verifyToken(google.mint(CLIENT, AUDIENCE)).principal()).isEqualTo(CLIENT);
  }

  @Test
  void verify_encryptedCompressedJweForm_refusedAsMalformedWithoutDecrypting() {
    // RFC 8725 3.6: no JWE is ever decrypted or decompressed; five parts are not a JWS.
    Base64.Encoder url = Base64.getUrlEncoder().withoutPadding();
    String header =
        url.encodeToString(
            "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"zip\":\"DEF\",\"kid\":\"k\"}"
                .getBytes(StandardCharsets.UTF_8));
    String jwe = header + ".a2V5.aXY.Y2lwaGVydGV4dA.dGFn";

    assertThat(reason(jwe)).isEqualTo(Reason.MALFORMED_TOKEN);
    assertThat(google.jwks().requestCount()).isEqualTo(0);
  }

  private Reason reason(String token) {
    return assertThrows(CallerRejectedException.class, () -> verifier.verifyToken(token)).reason();
  }

  private static KeyPair rsa(int bits) throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(bits);
    return generator.generateKeyPair();
  }

  private String signedWith(String kid, KeyPair pair) {
    return google
        .token()
        .email(CLIENT)
        .audience(AUDIENCE)
        .keyId(kid)
        .signWith(pair.getPrivate())
        .build();
  }

  /** An RS256 JWK of {@code pair}'s public key restricted to {@code ops} (RFC 7517 section 4.3). */
  private static JsonObject withKeyOps(String kid, KeyPair pair, String... ops) {
    RSAPublicKey key = (RSAPublicKey) pair.getPublic();
    JsonObject jwk = TestJwks.rsaJwk(kid, key, key.getPublicExponent());
    jwk.remove("use"); // RFC 7517 section 4.3: use and key_ops should not be used together
    JsonArray keyOps = new JsonArray();
    for (String op : ops) {
      keyOps.add(op);
    }
    jwk.add("key_ops", keyOps);
    return jwk;
  }

  /** The JWKS text with one more RSA key, optionally with another exponent. */
  private static String withExtraKey(String jwks, String kid, KeyPair pair, BigInteger exponent) {
    RSAPublicKey key = (RSAPublicKey) pair.getPublic();
    JsonObject document = JsonParser.parseString(jwks).getAsJsonObject();
    document
        .getAsJsonArray("keys")
        .add(TestJwks.rsaJwk(kid, key, exponent != null ? exponent : key.getPublicExponent()));
    return document.toString();
  }
}
