package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPublicKey;
import java.util.Base64;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link JwksParser}: what a key set must look like to be used, with keys generated here. */
final class JwksParserTest {
  private static RSAPublicKey key2048;
  private static RSAPublicKey otherKey2048;
  private static RSAPublicKey key1024;

  @BeforeAll
  static void generateKeys() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    key2048 = (RSAPublicKey) generator.generateKeyPair().getPublic();
    otherKey2048 = (RSAPublicKey) generator.generateKeyPair().getPublic();
    generator.initialize(1024);
    key1024 = (RSAPublicKey) generator.generateKeyPair().getPublic();
  }

  @Test
  void parse_googleShapedSet_keysByKid() throws Exception {
    Map<String, RSAPublicKey> keys =
        parse(
            "{\"keys\":["
                + jwk("a", key2048, ",\"use\":\"sig\",\"alg\":\"RS256\"")
                + ","
                + jwk("b", otherKey2048, "")
                + "]}");

    assertThat(keys.keySet()).containsExactly("a", "b");
    assertThat(keys.get("a").getModulus()).isEqualTo(key2048.getModulus());
    assertThat(keys.get("a").getPublicExponent()).isEqualTo(key2048.getPublicExponent());
    assertThat(keys.get("b").getModulus()).isEqualTo(otherKey2048.getModulus());
  }

  @Test
  void parse_keysNotForRs256Signatures_skipped() throws Exception {
    Map<String, RSAPublicKey> keys =
        parse(
            "{\"keys\":["
                + "{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"},"
                + jwk("enc", otherKey2048, ",\"use\":\"enc\"")
                + ","
                + jwk("ps", otherKey2048, ",\"alg\":\"PS256\"")
                + ","
                + jwkWithoutKid(otherKey2048)
                + ","
                + jwk("a", key2048, "")
                + "]}");

    assertThat(keys.keySet()).containsExactly("a");
  }

  @Test
  void parse_keyOpsWithoutVerify_skipped() throws Exception {
    Map<String, RSAPublicKey> keys =
        parse(
            "{\"keys\":["
                + jwk("sign", otherKey2048, ",\"key_ops\":[\"sign\"]")
                + ","
                + jwk("wrap", otherKey2048, ",\"use\":\"sig\",\"key_ops\":[\"wrapKey\"]")
                + ","
                + jwk("none", otherKey2048, ",\"key_ops\":[]")
                + ","
                + jwk("upper", otherKey2048, ",\"key_ops\":[\"Verify\"]") // case-sensitive
                + ","
                + jwk("verify", key2048, ",\"key_ops\":[\"verify\"],\"use\":\"sig\"")
                + ","
                + jwk("both", otherKey2048, ",\"key_ops\":[\"sign\",\"verify\",\"x-own\"]")
                + "]}");

    assertThat(keys.keySet()).containsExactly("verify", "both");
  }

  @Test
  void parse_sameKidForAKeyNotForVerifying_notADuplicate() throws Exception {
    Map<String, RSAPublicKey> keys =
        parse(
            "{\"keys\":["
                + jwk("a", otherKey2048, ",\"key_ops\":[\"encrypt\"]")
                + ","
                + jwk("a", key2048, "")
                + "]}");

    assertThat(keys.get("a").getModulus()).isEqualTo(key2048.getModulus());
  }

  @Test
  void parse_sameKidForAnEncryptionKey_notADuplicate() throws Exception {
    Map<String, RSAPublicKey> keys =
        parse(
            "{\"keys\":["
                + jwk("a", otherKey2048, ",\"use\":\"enc\"")
                + ","
                + jwk("a", key2048, "")
                + "]}");

    assertThat(keys.get("a").getModulus()).isEqualTo(key2048.getModulus());
  }

  static Stream<Arguments> refusedSets() {
    String good = jwk("a", key2048, "");
    String n = b64(unsigned(key2048.getModulus()));
    byte[] modulus = unsigned(key2048.getModulus());
    byte[] withZero = new byte[modulus.length + 1];
    System.arraycopy(modulus, 0, withZero, 1, modulus.length);
    String zeroPrefixed = b64(withZero);
    return Stream.of(
        refused("empty body", ""),
        refused("not JSON", "<html>"),
        refused("array, not object", "[" + good + "]"),
        refused("no keys member", "{\"other\":[]}"),
        refused("keys not an array", "{\"keys\":{}}"),
        refused("entry not an object", "{\"keys\":[\"a\"]}"),
        refused("empty set", "{\"keys\":[]}"),
        refused("only skipped keys", "{\"keys\":[" + jwk("a", key2048, ",\"use\":\"enc\"") + "]}"),
        refused(
            "only keys whose key_ops lack verify",
            "{\"keys\":[" + jwk("a", key2048, ",\"key_ops\":[\"sign\"]") + "]}"),
        refused(
            "key_ops a string",
            "{\"keys\":[" + good + "," + jwk("b", key2048, ",\"key_ops\":\"verify\"") + "]}"),
        refused(
            "key_ops null",
            "{\"keys\":[" + good + "," + jwk("b", key2048, ",\"key_ops\":null") + "]}"),
        refused(
            "key_ops with a number",
            "{\"keys\":[" + good + "," + jwk("b", key2048, ",\"key_ops\":[\"verify\",1]") + "]}"),
        refused(
            "key_ops repeats a value",
            "{\"keys\":["
                + good
                + ","
                + jwk("b", key2048, ",\"key_ops\":[\"verify\",\"verify\"]")
                + "]}"),
        refused("data after the object", "{\"keys\":[" + good + "]} {}"),
        refused("single quotes (lenient JSON)", "{'keys':[" + good + "]}"),
        refused("comment (lenient JSON)", "{\"keys\":[" + good + "]} // x"),
        refused("trailing comma", "{\"keys\":[" + good + ",]}"),
        refused("repeated keys member", "{\"keys\":[" + good + "],\"keys\":[]}"),
        refused(
            "repeated member in a JWK",
            "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\""
                + n
                + "\",\"n\":\""
                + n
                + "\",\"e\":\"AQAB\"}]}"),
        refused("no kty", "{\"keys\":[{\"kid\":\"a\",\"n\":\"" + n + "\",\"e\":\"AQAB\"}]}"),
        refused(
            "numeric kid",
            "{\"keys\":[{\"kty\":\"RSA\",\"kid\":1,\"n\":\"" + n + "\",\"e\":\"AQAB\"}]}"),
        refused("no e", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"" + n + "\"}]}"),
        refused("duplicate kid", "{\"keys\":[" + good + "," + jwk("a", otherKey2048, "") + "]}"),
        refused("1024-bit modulus", "{\"keys\":[" + jwk("a", key1024, "") + "]}"),
        refused("padded n", "{\"keys\":[" + rsa("a", n + "=", "AQAB") + "]}"),
        refused(
            "standard-alphabet character in n",
            "{\"keys\":[" + rsa("a", "+" + n.substring(1), "AQAB") + "]}"),
        refused("leading zero octet in n", "{\"keys\":[" + rsa("a", zeroPrefixed, "AQAB") + "]}"),
        refused("exponent 1", "{\"keys\":[" + rsa("a", n, "AQ") + "]}"),
        refused("even exponent", "{\"keys\":[" + rsa("a", n, "AQAA") + "]}"),
        refused("bad UTF-8", "{\"keys\":[" + good + "],\"x\":\"\u00ff\"}", true));
  }

  private static Arguments refused(String name, String body) {
    return refused(name, body, false);
  }

  private static Arguments refused(String name, String body, boolean latin1) {
    return Arguments.of(
        name, body.getBytes(latin1 ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedSets")
  void parse_badSet_refusedWhole(String name, byte[] body) {
    assertThrows(KeyFetchException.class, () -> JwksParser.parse(body));
  }

  // ---------------------------------------------------------------------------------------------

  private static Map<String, RSAPublicKey> parse(String json) throws KeyFetchException {
    return JwksParser.parse(json.getBytes(StandardCharsets.UTF_8));
  }

  private static String jwk(String kid, RSAPublicKey key, String extraMembers) {
    return "{\"kty\":\"RSA\",\"kid\":\""
        + kid
        + "\",\"n\":\""
        + b64(unsigned(key.getModulus()))
        + "\",\"e\":\""
        + b64(unsigned(key.getPublicExponent()))
        + "\""
        + extraMembers
        + "}";
  }

  private static String jwkWithoutKid(RSAPublicKey key) {
    return "{\"kty\":\"RSA\",\"n\":\"" + b64(unsigned(key.getModulus())) + "\",\"e\":\"AQAB\"}";
  }

  private static String rsa(String kid, String n, String e) {
    return "{\"kty\":\"RSA\",\"kid\":\"" + kid + "\",\"n\":\"" + n + "\",\"e\":\"" + e + "\"}";
  }

  /** Big-endian, without the sign octet BigInteger adds (RFC 7518 section 6.3.1.1). */
  private static byte[] unsigned(BigInteger value) {
    byte[] bytes = value.toByteArray();
    if (bytes[0] == 0 && bytes.length > 1) {
      byte[] trimmed = new byte[bytes.length - 1];
      System.arraycopy(bytes, 1, trimmed, 0, trimmed.length);
      return trimmed;
    }
    return bytes;
  }

  private static String b64(byte[] bytes) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }
}
