package dev.invokerguard.verifier;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.security.interfaces.RSAPublicKey;

/**
 * The compact JWS steps of the pipeline, apart from keys, claims and I/O, as Tink keeps its {@code
 * JwtFormat} apart from its verifier: the split into three parts (RFC 7515 section 7.1), the header
 * rules, the removed-signature case and the RS256 check. {@link CallerVerifier} runs them in order
 * on a token the verified-token cache did not answer for:
 *
 * <ol>
 *   <li>{@link #split}: at most {@link BearerHeaders#MAX_HEADER_CHARS}, three non-empty parts;
 *   <li>{@link #checkHeader}: strict base64url JSON object, {@code alg} exactly {@code RS256} (RFC
 *       8725 section 3.1), no {@code crit} (RFC 7515 section 4.1.11), {@code typ} absent or {@code
 *       JWT}, {@code kid} present;
 *   <li>{@link #signatureRemoved()}, or {@link #verifySignature} with the key {@code kid} names;
 *   <li>{@link #claims()}: the payload as a strict JSON object, for {@link ClaimRules}.
 * </ol>
 *
 * <p>Works on the dots' indices in the token: nothing is copied but the decoded parts.
 */
final class CompactJws {
  /** The literal Google puts in place of a signature it removed after checking it. */
  static final String SIGNATURE_REMOVED_BY_GOOGLE = "SIGNATURE_REMOVED_BY_GOOGLE";

  private final String token;
  private final int firstDot;
  private final int secondDot;

  private CompactJws(String token, int firstDot, int secondDot) {
    this.token = token;
    this.firstDot = firstDot;
    this.secondDot = secondDot;
  }

  /**
   * Splits a compact JWS into its three parts, without decoding them.
   *
   * @throws CallerRejectedException {@link Reason#MALFORMED_TOKEN} when it is over the size cap or
   *     not three non-empty parts
   */
  static CompactJws split(String token) throws CallerRejectedException {
    if (token.length() > BearerHeaders.MAX_HEADER_CHARS) {
      throw reject(Reason.MALFORMED_TOKEN, "token is over the size cap");
    }
    int firstDot = token.indexOf('.');
    int secondDot = firstDot < 0 ? -1 : token.indexOf('.', firstDot + 1);
    if (firstDot <= 0
        || secondDot <= firstDot + 1
        || secondDot == token.length() - 1
        || token.indexOf('.', secondDot + 1) >= 0) {
      throw reject(Reason.MALFORMED_TOKEN, "expected a compact JWS of three non-empty parts");
    }
    return new CompactJws(token, firstDot, secondDot);
  }

  /**
   * Whether {@code token} ends in a signature part that is exactly {@link
   * #SIGNATURE_REMOVED_BY_GOOGLE}: a cheap look at the end only, for telling which headers came
   * stripped; {@link #signatureRemoved()} is the pipeline's answer on a split token.
   */
  static boolean looksStripped(String token) {
    int start = token.length() - SIGNATURE_REMOVED_BY_GOOGLE.length();
    return start > 0
        && token.charAt(start - 1) == '.'
        && token.startsWith(SIGNATURE_REMOVED_BY_GOOGLE, start);
  }

  /**
   * Decodes the header and applies its rules, in this order: strict JSON, {@code alg}, {@code
   * crit}, {@code typ}, {@code kid}.
   *
   * @return the {@code kid}
   */
  String checkHeader() throws CallerRejectedException {
    JoseJson.Header header;
    try {
      header = JoseJson.readHeader(Base64Url.decode(token, 0, firstDot));
    } catch (JoseJson.WrongTypeException e) {
      throw reject(Reason.MALFORMED_TOKEN, "header member '" + e.member() + "' has the wrong type");
    } catch (IOException | IllegalArgumentException | IllegalStateException e) {
      throw reject(Reason.MALFORMED_TOKEN, "header is not a strict base64url JSON object");
    }
    if (!"RS256".equals(header.alg())) {
      throw reject(
          Reason.UNSUPPORTED_ALGORITHM,
          "expected alg RS256, got "
              + (header.alg() == null ? "none" : UntrustedText.quoted(header.alg())));
    }
    if (header.hasCrit()) {
      throw reject(Reason.CRITICAL_HEADER, "the header has crit; no extension is understood");
    }
    if (header.typ() != null && !"JWT".equalsIgnoreCase(header.typ())) {
      throw reject(
          Reason.UNSUPPORTED_TYPE, "expected typ JWT, got " + UntrustedText.quoted(header.typ()));
    }
    if (header.kid() == null || header.kid().isEmpty()) {
      throw reject(Reason.MISSING_KEY_ID, "the header has no kid");
    }
    return header.kid();
  }

  /**
   * Whether the signature part is exactly {@link #SIGNATURE_REMOVED_BY_GOOGLE} (a part that merely
   * starts with it is an ordinary, bad, signature).
   */
  boolean signatureRemoved() {
    return token.length() - secondDot - 1 == SIGNATURE_REMOVED_BY_GOOGLE.length()
        && token.startsWith(SIGNATURE_REMOVED_BY_GOOGLE, secondDot + 1);
  }

  /**
   * Checks the RS256 signature (JDK {@code SHA256withRSA}) over the ASCII signing input (RFC 7515
   * section 5.2).
   *
   * @throws CallerRejectedException {@link Reason#MALFORMED_TOKEN} when the signature part is not
   *     strict base64url, {@link Reason#BAD_SIGNATURE} when it does not verify with {@code key}
   */
  void verifySignature(RSAPublicKey key) throws CallerRejectedException {
    byte[] signature;
    try {
      signature = Base64Url.decode(token, secondDot + 1, token.length());
    } catch (IllegalArgumentException e) {
      throw reject(Reason.MALFORMED_TOKEN, "signature is not strict base64url");
    }
    boolean valid;
    try {
      Signature rs256 = Signature.getInstance("SHA256withRSA");
      rs256.initVerify(key);
      rs256.update(token.substring(0, secondDot).getBytes(StandardCharsets.US_ASCII));
      valid = rs256.verify(signature);
    } catch (GeneralSecurityException e) {
      valid = false; // wrong length and other malformations: not a valid signature either
    }
    if (!valid) {
      throw reject(Reason.BAD_SIGNATURE, "the RS256 signature does not verify");
    }
  }

  /** Decodes the payload as a strict JSON object of claims; {@link ClaimRules} judges them. */
  JoseJson.Claims claims() throws CallerRejectedException {
    try {
      return JoseJson.readClaims(Base64Url.decode(token, firstDot + 1, secondDot));
    } catch (JoseJson.WrongTypeException e) {
      throw reject(Reason.INVALID_CLAIM, "claim '" + e.member() + "' has the wrong type");
    } catch (IOException | IllegalArgumentException | IllegalStateException e) {
      throw reject(Reason.MALFORMED_TOKEN, "payload is not a strict base64url JSON object");
    }
  }

  private static CallerRejectedException reject(Reason reason, String message) {
    return new CallerRejectedException(reason, message);
  }
}
