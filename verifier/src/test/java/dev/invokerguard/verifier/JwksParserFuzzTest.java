package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.interfaces.RSAPublicKey;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Jazzer fuzz tests of the key set parser, without HTTP in the way: the only allowed outcomes are a
 * non-empty map of RSA keys that each meet the parser's own bar (at least 2048 bits, an odd
 * exponent of at least 3, a non-empty {@code kid}), or a {@link KeyFetchException}. Any other
 * exception, or a key below the bar, is a finding: the cache would crash or trust a weak key.
 *
 * <p>The seeds are Google's published key sets from the real Google token fixtures in
 * verifier-testing's resources (v3 JWKS, the legacy PEM map, IAP's EC set) and a set of this
 * project's deterministic keys.
 */
class JwksParserFuzzTest {
  private static final RSAPublicKey KEY =
      (RSAPublicKey) FuzzFixture.deterministicRsaKey(1).getPublic();
  private static final RSAPublicKey OTHER_KEY =
      (RSAPublicKey) FuzzFixture.deterministicRsaKey(2).getPublic();
  private static final String JWKS =
      TestJwks.keySet(Map.of(FuzzFixture.KID, KEY, FuzzFixture.OTHER_KID, OTHER_KEY));

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

  /**
   * Found by {@code parse_editedKeySet_keysOrRefusal}
   * (finding-key-with-empty-kid-counted-as-usable): a key under {@code "kid": ""} counted as
   * usable, so a set whose only RSA key had an empty kid loaded and replaced the last good set with
   * one that verifies nothing; every caller then got 401 (unknown key) instead of being served from
   * the last good keys. No token can name an empty kid.
   */
  @Test
  void parse_onlyKeyHasAnEmptyKid_refusedAsNoUsableKey() {
    String emptyKid =
        TestJwks.keySet(Map.of("", (RSAPublicKey) FuzzFixture.deterministicRsaKey(1).getPublic()));

    assertThrows(
        KeyFetchException.class, () -> JwksParser.parse(emptyKid.getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void parse_emptyKidBesideAGoodKey_skipped() throws Exception {
    String set = TestJwks.keySet(Map.of("", KEY, FuzzFixture.KID, KEY));

    assertThat(JwksParser.parse(set.getBytes(StandardCharsets.UTF_8)).keySet())
        .containsExactly(FuzzFixture.KID);
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
}
