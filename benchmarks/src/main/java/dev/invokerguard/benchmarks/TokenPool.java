package dev.invokerguard.benchmarks;

import dev.invokerguard.testing.TestIssuer;
import java.nio.charset.StandardCharsets;
import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.util.Base64;
import java.util.List;

/**
 * The tokens every benchmark of one run verifies: {@code size} distinct Google-shaped ID tokens
 * from one {@link TestIssuer} with three published RSA-2048 keys (as Google publishes), signed with
 * the three keys in turn. They differ by {@code iat} (one second apart), so no two are equal, and
 * every one is valid for the next hour. For the raw RSA floor, each token's signing input and
 * signature are also kept decoded, with the key its {@code kid} names.
 */
final class TokenPool {
  /** The audience every token names and every verifier expects. */
  static final String AUDIENCE =
      "https://europe-west1-host-project.cloudfunctions.net/internal-api";

  /** The allowlisted caller every token is for. */
  static final String CALLER = "api-client@client-project.iam.gserviceaccount.com";

  /** The most tokens a pool holds: one per second of {@code iat} in the last hour. */
  static final int MAX_SIZE = 3000;

  private final String[] tokens;
  private final byte[][] signingInputs;
  private final byte[][] signatures;
  private final RSAPublicKey[] keys;

  TokenPool(TestIssuer issuer, int size) {
    if (size < 1 || size > MAX_SIZE) {
      throw new IllegalArgumentException("pool size must be 1 to " + MAX_SIZE + ", got " + size);
    }
    List<String> kids = issuer.keyIds();
    Instant now = Instant.now();
    tokens = new String[size];
    signingInputs = new byte[size][];
    signatures = new byte[size][];
    keys = new RSAPublicKey[size];
    for (int i = 0; i < size; i++) {
      String kid = kids.get(i % kids.size());
      Instant issuedAt = now.minusSeconds(i);
      String token =
          issuer
              .token()
              .email(CALLER)
              .audience(AUDIENCE)
              .issuedAt(issuedAt)
              .expiresAt(now.plusSeconds(3600))
              .signWithKey(kid)
              .build();
      int lastDot = token.lastIndexOf('.');
      tokens[i] = token;
      signingInputs[i] = token.substring(0, lastDot).getBytes(StandardCharsets.US_ASCII);
      signatures[i] = Base64.getUrlDecoder().decode(token.substring(lastDot + 1));
      keys[i] = issuer.publicKey(kid);
    }
  }

  int size() {
    return tokens.length;
  }

  String token(int i) {
    return tokens[i];
  }

  byte[] signingInput(int i) {
    return signingInputs[i];
  }

  byte[] signature(int i) {
    return signatures[i];
  }

  RSAPublicKey key(int i) {
    return keys[i];
  }

  /**
   * The token with one character in the middle of its signature changed: still well-formed, but its
   * signature no longer verifies.
   */
  static String tampered(String token) {
    int at = token.lastIndexOf('.') + 100;
    char[] chars = token.toCharArray();
    chars[at] = chars[at] == 'A' ? 'B' : 'A';
    return new String(chars);
  }
}
