package dev.invokerguard.verifier;

import java.util.Base64;

/**
 * Strict base64url (RFC 7515 section 2 and RFC 4648 section 5): no padding, no characters outside
 * the URL-safe alphabet, and canonical trailing bits. The JDK decoder does the decoding; this class
 * only adds the two checks it leaves out, because without them several spellings of one signature
 * would all verify, and a "mutated" token would still pass.
 */
final class Base64Url {
  private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

  private Base64Url() {}

  /**
   * Decodes {@code s[from, to)}.
   *
   * @throws IllegalArgumentException if the text is empty, padded, outside the alphabet, of an
   *     impossible length, or has non-zero trailing bits
   */
  static byte[] decode(String s, int from, int to) {
    int length = to - from;
    if (length <= 0) {
      throw new IllegalArgumentException("empty base64url part");
    }
    int lastBits =
        switch (length % 4) {
          case 0 -> 0;
          case 2 -> 0x0F; // 12 bits carry 8: the low 4 bits of the last character must be zero
          case 3 -> 0x03; // 18 bits carry 16: the low 2 bits must be zero
          default -> throw new IllegalArgumentException("impossible base64url length");
        };
    if (lastBits != 0 && (sextet(s.charAt(to - 1)) & lastBits) != 0) {
      throw new IllegalArgumentException("non-canonical base64url");
    }
    // The JDK's URL decoder rejects characters outside the alphabet but accepts '=' padding,
    // which RFC 7515 forbids in JWS; refuse it first.
    for (int i = from; i < to; i++) {
      if (s.charAt(i) == '=') {
        throw new IllegalArgumentException("padded base64url");
      }
    }
    return DECODER.decode(s.substring(from, to));
  }

  private static int sextet(char c) {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    if (c == '-') {
      return 62;
    }
    if (c == '_') {
      return 63;
    }
    throw new IllegalArgumentException("not base64url");
  }
}
