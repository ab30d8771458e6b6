package dev.invokerguard.verifier;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.CharacterCodingException;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.NoSuchAlgorithmException;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.RSAPublicKeySpec;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Turns a JWK Set (RFC 7517 section 5) into the RS256 verification keys it holds, by key id.
 *
 * <p>The whole body is refused (so that the cache keeps its previous key set) when it is not strict
 * UTF-8 JSON (RFC 8259, gson in strict mode, nothing after the value), is not an object with a
 * {@code "keys"} array of objects, repeats a member name (RFC 7517 section 4 lets a parser reject
 * that), has a JWK without {@code kty} (RFC 7517 section 4.1), gives a known member the wrong type
 * ({@code key_ops} must be an array of strings without repeats, section 4.3), has a usable key
 * whose {@code n} or {@code e} is not strict base64url (RFC 7515 section 2) in its shortest form
 * (RFC 7518 section 6.3.1), whose modulus is shorter than 2048 bits or whose exponent is not odd
 * and at least 3, names two usable keys with one {@code kid}, or holds no usable key at all. A
 * half-valid set is a sign that something is wrong upstream; keeping the last good set is safer
 * than guessing.
 *
 * <p>A key is usable when {@code kty} is {@code RSA}, {@code use} is absent or {@code sig} (section
 * 4.2), {@code key_ops} is absent or contains {@code verify} (section 4.3; values are
 * case-sensitive), {@code alg} is absent or {@code RS256} (section 4.4) and it has a non-empty
 * {@code kid} (tokens name their key; the verifier never tries every key). Other keys (EC,
 * encryption keys, keys restricted to other operations, other algorithms) are skipped, not refused:
 * a set may legitimately carry them.
 */
final class JwksParser {
  /** NIST SP 800-57 and RFC 7518 section 3.3 ("a key of size 2048 bits or larger MUST be used"). */
  static final int MIN_MODULUS_BITS = 2048;

  private static final Set<String> STRING_MEMBERS = Set.of("kty", "kid", "use", "alg", "n", "e");
  private static final BigInteger THREE = BigInteger.valueOf(3);

  private JwksParser() {}

  /**
   * The usable keys of {@code body}, by {@code kid}; never empty.
   *
   * @throws KeyFetchException when the body is refused (see the class comment)
   */
  static Map<String, RSAPublicKey> parse(byte[] body) throws KeyFetchException {
    KeyFactory factory;
    try {
      // One factory per key set: KeyFactory is not thread-safe, and keys are built once per
      // fetch, never per request.
      factory = KeyFactory.getInstance("RSA");
    } catch (NoSuchAlgorithmException e) {
      throw new KeyFetchException(
          KeyFetchOutcome.UNEXPECTED_ERROR, "no RSA KeyFactory in this JDK", e);
    }
    Map<String, RSAPublicKey> keys = new LinkedHashMap<>();
    try (JsonReader reader = JoseJson.strictReader(body)) {
      expect(reader, JsonToken.BEGIN_OBJECT, "the JWKS is not a JSON object");
      reader.beginObject();
      Set<String> names = new HashSet<>();
      while (reader.hasNext()) {
        String name = reader.nextName();
        if (!names.add(name)) {
          throw new KeyFetchException(
              KeyFetchOutcome.INVALID_BODY, "the JWKS repeats a member name");
        }
        if (name.equals("keys")) {
          expect(reader, JsonToken.BEGIN_ARRAY, "the JWKS \"keys\" member is not an array");
          reader.beginArray();
          while (reader.hasNext()) {
            readKey(reader, factory, keys);
          }
          reader.endArray();
        } else {
          reader.skipValue();
        }
      }
      reader.endObject();
      expect(reader, JsonToken.END_DOCUMENT, "data after the JWKS object");
      if (!names.contains("keys")) {
        throw new KeyFetchException(
            KeyFetchOutcome.INVALID_BODY, "the JWKS has no \"keys\" member");
      }
    } catch (CharacterCodingException e) {
      throw new KeyFetchException(KeyFetchOutcome.INVALID_BODY, "the body is not UTF-8");
    } catch (IOException | IllegalStateException e) {
      // MalformedJsonException is an IOException; gson throws IllegalStateException for a token
      // of the wrong kind and for nesting beyond its limit.
      throw new KeyFetchException(KeyFetchOutcome.INVALID_BODY, "the body is not valid JSON", e);
    }
    if (keys.isEmpty()) {
      throw new KeyFetchException(
          KeyFetchOutcome.INVALID_BODY, "the JWKS holds no usable RS256 key");
    }
    return Map.copyOf(keys);
  }

  private static void readKey(JsonReader reader, KeyFactory factory, Map<String, RSAPublicKey> keys)
      throws IOException, KeyFetchException {
    expect(reader, JsonToken.BEGIN_OBJECT, "a JWKS entry is not a JSON object");
    Map<String, String> members = new HashMap<>();
    Set<String> keyOps = null; // absent: any operation
    Set<String> names = new HashSet<>();
    reader.beginObject();
    while (reader.hasNext()) {
      String name = reader.nextName();
      if (!names.add(name)) {
        throw new KeyFetchException(KeyFetchOutcome.INVALID_BODY, "a JWK repeats a member name");
      }
      if (name.equals("key_ops")) {
        keyOps = keyOps(reader);
      } else if (STRING_MEMBERS.contains(name)) {
        // peek first: gson's nextString() would quietly turn a number into a string.
        expect(reader, JsonToken.STRING, "a JWK member that must be a string is not one");
        members.put(name, reader.nextString());
      } else {
        reader.skipValue();
      }
    }
    reader.endObject();

    String kty = members.get("kty");
    if (kty == null) {
      throw new KeyFetchException(KeyFetchOutcome.INVALID_BODY, "a JWK has no \"kty\"");
    }
    String use = members.get("use");
    String alg = members.get("alg");
    String kid = members.get("kid");
    if (!kty.equals("RSA")
        || (use != null && !use.equals("sig"))
        || (keyOps != null && !keyOps.contains("verify"))
        || (alg != null && !alg.equals("RS256"))
        || kid == null
        || kid.isEmpty()) {
      // Not a key this verifier uses. An empty kid counts as none: no token can name it (an empty
      // kid in a token is MISSING_KEY_ID), so the set must not count it as usable.
      return;
    }
    RSAPublicKey key = rsaKey(factory, members.get("n"), members.get("e"));
    if (keys.putIfAbsent(kid, key) != null) {
      // RFC 7517 section 4.5: kids SHOULD be distinct; two usable keys under one kid would make
      // the choice of key depend on the order of the set.
      throw new KeyFetchException(
          KeyFetchOutcome.INVALID_BODY, "two usable keys share one \"kid\"");
    }
  }

  /**
   * RFC 7517 section 4.3: an array of case-sensitive strings in which no value may repeat; values
   * other than the listed ones are allowed.
   */
  private static Set<String> keyOps(JsonReader reader) throws IOException, KeyFetchException {
    expect(reader, JsonToken.BEGIN_ARRAY, "a JWK's \"key_ops\" is not an array");
    Set<String> ops = new HashSet<>();
    reader.beginArray();
    while (reader.hasNext()) {
      expect(reader, JsonToken.STRING, "a JWK's \"key_ops\" holds a value that is not a string");
      if (!ops.add(reader.nextString())) {
        throw new KeyFetchException(
            KeyFetchOutcome.INVALID_BODY, "a JWK's \"key_ops\" repeats a value");
      }
    }
    reader.endArray();
    return ops;
  }

  private static RSAPublicKey rsaKey(KeyFactory factory, String n, String e)
      throws KeyFetchException {
    if (n == null || e == null) {
      throw new KeyFetchException(KeyFetchOutcome.INVALID_BODY, "an RSA JWK lacks \"n\" or \"e\"");
    }
    BigInteger modulus = unsignedMinimal(n);
    BigInteger exponent = unsignedMinimal(e);
    if (modulus.bitLength() < MIN_MODULUS_BITS) {
      throw new KeyFetchException(
          KeyFetchOutcome.INVALID_BODY,
          "an RSA modulus is shorter than " + MIN_MODULUS_BITS + " bits");
    }
    if (!exponent.testBit(0) || exponent.compareTo(THREE) < 0) {
      throw new KeyFetchException(
          KeyFetchOutcome.INVALID_BODY, "an RSA exponent is not odd and at least 3");
    }
    try {
      return (RSAPublicKey) factory.generatePublic(new RSAPublicKeySpec(modulus, exponent));
    } catch (GeneralSecurityException | ClassCastException ex) {
      throw new KeyFetchException(
          KeyFetchOutcome.INVALID_BODY, "an RSA JWK is not a valid public key", ex);
    }
  }

  /** RFC 7518 section 6.3.1.1: Base64urlUInt, with the minimum number of octets. */
  private static BigInteger unsignedMinimal(String base64url) throws KeyFetchException {
    byte[] octets;
    try {
      octets = Base64Url.decode(base64url, 0, base64url.length());
    } catch (IllegalArgumentException ex) {
      throw new KeyFetchException(
          KeyFetchOutcome.INVALID_BODY, "an RSA JWK member is not strict base64url");
    }
    if (octets[0] == 0) {
      throw new KeyFetchException(
          KeyFetchOutcome.INVALID_BODY, "an RSA JWK member has a leading zero octet");
    }
    return new BigInteger(1, octets);
  }

  private static void expect(JsonReader reader, JsonToken token, String message)
      throws IOException, KeyFetchException {
    if (reader.peek() != token) {
      throw new KeyFetchException(KeyFetchOutcome.INVALID_BODY, message);
    }
  }
}
