package dev.invokerguard.testing;

import com.google.gson.JsonObject;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.interfaces.RSAPublicKey;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/** One RSA-2048 key pair of a {@link TestIssuer}, with its key id. */
record SigningKey(String kid, RSAPublicKey publicKey, PrivateKey privateKey) {

  private static final SecureRandom RANDOM = new SecureRandom();

  /** Generates a key with a random 40-hex-digit key id, the shape of Google's key ids. */
  static SigningKey generate() {
    KeyPair pair;
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048, RANDOM);
      pair = generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot generate RSA-2048 keys", e);
    }
    byte[] id = new byte[20];
    RANDOM.nextBytes(id);
    return new SigningKey(
        HexFormat.of().formatHex(id), (RSAPublicKey) pair.getPublic(), pair.getPrivate());
  }

  /**
   * The key as a JWK in the member set Google serves at /oauth2/v3/certs (RFC 7517, 7518 6.3.1).
   */
  JsonObject toJwk() {
    JsonObject jwk = new JsonObject();
    jwk.addProperty("kty", "RSA");
    jwk.addProperty("alg", "RS256");
    jwk.addProperty("use", "sig");
    jwk.addProperty("kid", kid);
    jwk.addProperty("n", base64UrlUnsigned(publicKey.getModulus()));
    jwk.addProperty("e", base64UrlUnsigned(publicKey.getPublicExponent()));
    return jwk;
  }

  /**
   * RFC 7518 section 6.3.1 wants the unsigned big-endian octets; BigInteger adds a sign byte when
   * the top bit is set, which must not appear in the JWK.
   */
  private static String base64UrlUnsigned(BigInteger value) {
    byte[] bytes = value.toByteArray();
    if (bytes.length > 1 && bytes[0] == 0) {
      bytes = Arrays.copyOfRange(bytes, 1, bytes.length);
    }
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  @Override
  public String toString() {
    // Never print key material, even in a test log.
    return "SigningKey[" + kid + "]";
  }
}
