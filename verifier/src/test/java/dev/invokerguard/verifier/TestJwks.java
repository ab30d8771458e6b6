package dev.invokerguard.verifier;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.math.BigInteger;
import java.security.interfaces.RSAPublicKey;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;

/** JWKS documents (RFC 7517) written by tests, shaped as Google serves them. */
final class TestJwks {
  private static final Base64.Encoder URL = Base64.getUrlEncoder().withoutPadding();

  private TestJwks() {}

  /** A key set of {@code keys}, in kid order. */
  static String keySet(Map<String, RSAPublicKey> keys) {
    JsonArray array = new JsonArray();
    keys.entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .forEach(
            key ->
                array.add(
                    rsaJwk(key.getKey(), key.getValue(), key.getValue().getPublicExponent())));
    JsonObject document = new JsonObject();
    document.add("keys", array);
    return document.toString();
  }

  /** An RS256 signing JWK with {@code key}'s modulus and the given exponent. */
  static JsonObject rsaJwk(String kid, RSAPublicKey key, BigInteger exponent) {
    JsonObject jwk = new JsonObject();
    jwk.addProperty("kty", "RSA");
    jwk.addProperty("alg", "RS256");
    jwk.addProperty("use", "sig");
    jwk.addProperty("kid", kid);
    jwk.addProperty("n", URL.encodeToString(unsigned(key.getModulus())));
    jwk.addProperty("e", URL.encodeToString(unsigned(exponent)));
    return jwk;
  }

  /** RFC 7518 section 6.3.1.1: the unsigned big-endian bytes, without a leading zero. */
  private static byte[] unsigned(BigInteger value) {
    byte[] bytes = value.toByteArray();
    return bytes[0] == 0 ? Arrays.copyOfRange(bytes, 1, bytes.length) : bytes;
  }
}
