package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.interfaces.RSAPublicKey;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Jazzer fuzz tests of the key set parser, without HTTP in the way: the only allowed outcomes are a
 * non-empty map of RSA keys that each meet the parser's own bar (at least 2048 bits, an odd
 * exponent of at least 3, a non-empty {@code kid}), or a {@link KeyFetchException}. Any other
 * exception, or a key below the bar, is a finding: the cache would crash or trust a weak key.
 *
 * <p>The seeds are Google's published key sets from the shared fixtures (v3 JWKS, the legacy PEM
 * map, IAP's EC set) and a set of this project's deterministic keys.
 */
class JwksParserFuzzTest {
  private static final String JWKS =
      jwks(
          Map.of(
              FuzzFixture.KID, (RSAPublicKey) FuzzFixture.deterministicRsaKey(1).getPublic(),
              FuzzFixture.OTHER_KID,
                  (RSAPublicKey) FuzzFixture.deterministicRsaKey(2).getPublic()));

  /** Arbitrary bytes as a key set body. */
  @FuzzTest(maxDuration = "5m")
  void parse_arbitraryBody_keysOrRefusal(byte[] body) {
    judge(body);
  }

  /** A valid key set changed by structure-aware edits (kid swaps, wrong types, duplicates). */
  @FuzzTest(maxDuration = "5m")
  void parse_editedKeySet_keysOrRefusal(FuzzedDataProvider data) {
    judge(KeySetMutator.mutate(JWKS, data).getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void parse_uneditedSeedKeySet_yieldsBothKeys() throws Exception {
    assertThat(JwksParser.parse(JWKS.getBytes(StandardCharsets.UTF_8)).keySet())
        .containsExactly(FuzzFixture.KID, FuzzFixture.OTHER_KID);
  }

  private static void judge(byte[] body) {
    Map<String, RSAPublicKey> keys;
    try {
      keys = JwksParser.parse(body);
    } catch (KeyFetchException refused) {
      return;
    }
    if (keys.isEmpty()) {
      throw new AssertionError("an empty key set was accepted");
    }
    for (Map.Entry<String, RSAPublicKey> key : keys.entrySet()) {
      BigInteger e = key.getValue().getPublicExponent();
      if (key.getKey() == null
          || key.getKey().isEmpty()
          || key.getValue().getModulus().bitLength() < JwksParser.MIN_MODULUS_BITS
          || !e.testBit(0)
          || e.compareTo(BigInteger.valueOf(3)) < 0) {
        throw new AssertionError("a key below the bar was accepted: kid " + key.getKey());
      }
    }
  }

  /** A JWKS document of the given keys, as Google serves it. */
  private static String jwks(Map<String, RSAPublicKey> keys) {
    Base64.Encoder url = Base64.getUrlEncoder().withoutPadding();
    StringBuilder json = new StringBuilder("{\"keys\":[");
    keys.entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .forEach(
            key ->
                json.append(json.charAt(json.length() - 1) == '[' ? "" : ",")
                    .append("{\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"kid\":\"")
                    .append(key.getKey())
                    .append("\",\"n\":\"")
                    .append(url.encodeToString(unsigned(key.getValue().getModulus())))
                    .append("\",\"e\":\"")
                    .append(url.encodeToString(unsigned(key.getValue().getPublicExponent())))
                    .append("\"}"));
    return json.append("]}").toString();
  }

  /** RFC 7518 section 6.3.1.1: the unsigned big-endian bytes, without a leading zero. */
  private static byte[] unsigned(BigInteger value) {
    byte[] bytes = value.toByteArray();
    return bytes[0] == 0 ? java.util.Arrays.copyOfRange(bytes, 1, bytes.length) : bytes;
  }
}
