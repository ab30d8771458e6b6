package dev.invokerguard.verifier;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * Structure-aware mutations of a compact JWS, driven by the fuzzer's input: the fuzzer chooses a
 * minted token and a few edits that know where the parts are, what base64url and JSON look like,
 * and which tricks the literature knows (algorithm swap, re-encoding, part splicing, padding,
 * signature length games). The result is whatever string the edits produce; the oracle decides.
 */
final class TokenMutator {
  private static final Base64.Encoder URL = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder LENIENT = Base64.getUrlDecoder();
  private static final String ALPHABET =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  private static final String[] JSON_SNIPPETS = {
    "\"alg\":\"none\"",
    "\"alg\":\"HS256\"",
    "\"alg\":\"RS384\"",
    "\"alg\":\"rs256\"",
    "\"crit\":[\"exp\"]",
    "\"kid\":\"fuzz-key-2\"",
    "\"kid\":\"\"",
    "\"kid\":null",
    "\"typ\":\"at+jwt\"",
    "\"aud\":\"https://internal-api-abc123-ew.a.run.app\"",
    "\"aud\":[]",
    "\"aud\":null",
    "\"exp\":1e400",
    "\"exp\":-1",
    "\"exp\":\"9999999999\"",
    "\"iat\":1.5",
    "\"nbf\":99999999999",
    "\"iss\":\"accounts.google.com\"",
    "\"sub\":\"\"",
    "\"email_verified\":\"TRUE\"",
    "\"email\":\"API-CLIENT@client-project.iam.gserviceaccount.com\"",
    "\"jku\":\"http://x\"",
  };

  private TokenMutator() {}

  /** Applies one to four fuzzer-chosen edits to {@code token}; {@code donors} feed splices. */
  static String mutate(String token, FuzzedDataProvider data, List<String> donors) {
    String result = token;
    int edits = data.consumeInt(1, 4);
    for (int i = 0; i < edits && data.remainingBytes() > 0; i++) {
      result = edit(result, data, donors);
    }
    return result;
  }

  private static String edit(String token, FuzzedDataProvider data, List<String> donors) {
    String[] parts = token.split("\\.", -1);
    int part = data.consumeInt(0, Math.max(0, parts.length - 1));
    switch (data.consumeInt(0, 13)) {
      case 0:
        { // replace one character by another of the alphabet (a one-symbol change)
          if (token.isEmpty()) {
            return token;
          }
          int at = data.consumeInt(0, token.length() - 1);
          char c = ALPHABET.charAt(data.consumeInt(0, ALPHABET.length() - 1));
          return token.substring(0, at) + c + token.substring(at + 1);
        }
      case 1:
        { // flip one bit of one character, which can leave the alphabet
          if (token.isEmpty()) {
            return token;
          }
          int at = data.consumeInt(0, token.length() - 1);
          char c = (char) (token.charAt(at) ^ (1 << data.consumeInt(0, 7)));
          return token.substring(0, at) + c + token.substring(at + 1);
        }
      case 2:
        { // delete a range
          if (token.isEmpty()) {
            return token;
          }
          int from = data.consumeInt(0, token.length() - 1);
          int to = data.consumeInt(from, Math.min(token.length(), from + 64));
          return token.substring(0, from) + token.substring(to);
        }
      case 3:
        { // insert fuzzer text
          int at = data.consumeInt(0, token.length());
          return token.substring(0, at) + data.consumeString(16) + token.substring(at);
        }
      case 4: // replace a part by the base64url of fuzzer bytes
        parts[part] = URL.encodeToString(data.consumeBytes(96));
        return String.join(".", parts);
      case 5: // replace a part by the base64url of fuzzer text (JSON-ish when the corpus helps)
        parts[part] = URL.encodeToString(data.consumeString(200).getBytes(StandardCharsets.UTF_8));
        return String.join(".", parts);
      case 6:
        { // edit the decoded JSON of the header or payload, then re-encode it canonically
          int jsonPart = Math.min(part, 1);
          String json = decode(parts, jsonPart);
          if (json == null) {
            return token;
          }
          String snippet =
              data.consumeBoolean()
                  ? JSON_SNIPPETS[data.consumeInt(0, JSON_SNIPPETS.length - 1)]
                  : data.consumeString(40);
          int close = json.lastIndexOf('}');
          json =
              close < 0
                  ? json + snippet
                  : json.substring(0, close) + "," + snippet + json.substring(close);
          parts[jsonPart] = URL.encodeToString(json.getBytes(StandardCharsets.UTF_8));
          return String.join(".", parts);
        }
      case 7:
        { // replace a substring of the decoded JSON, then re-encode it
          int jsonPart = Math.min(part, 1);
          String json = decode(parts, jsonPart);
          if (json == null || json.isEmpty()) {
            return token;
          }
          int from = data.consumeInt(0, json.length() - 1);
          int to = data.consumeInt(from, Math.min(json.length(), from + 32));
          json = json.substring(0, from) + data.consumeString(32) + json.substring(to);
          parts[jsonPart] = URL.encodeToString(json.getBytes(StandardCharsets.UTF_8));
          return String.join(".", parts);
        }
      case 8:
        { // splice: take this part from another minted token
          String donor = donors.get(data.consumeInt(0, donors.size() - 1));
          String[] donorParts = donor.split("\\.", -1);
          if (part < donorParts.length) {
            parts[part] = donorParts[part];
          }
          return String.join(".", parts);
        }
      case 9:
        { // re-spell a part: padding, standard alphabet, or non-canonical trailing bits
          byte[] bytes = decodeBytes(parts[part]);
          if (bytes == null) {
            return token;
          }
          switch (data.consumeInt(0, 2)) {
            case 0 -> parts[part] = Base64.getUrlEncoder().encodeToString(bytes); // padded
            case 1 -> parts[part] = Base64.getEncoder().withoutPadding().encodeToString(bytes);
            default -> {
              String s = parts[part];
              if (!s.isEmpty()) {
                int last = ALPHABET.indexOf(s.charAt(s.length() - 1));
                if (last >= 0) {
                  parts[part] =
                      s.substring(0, s.length() - 1)
                          + ALPHABET.charAt((last ^ data.consumeInt(1, 3)) & 63);
                }
              }
            }
          }
          return String.join(".", parts);
        }
      case 10:
        { // change the decoded bytes of a part: length games on the signature especially
          byte[] bytes = decodeBytes(parts[part]);
          if (bytes == null) {
            return token;
          }
          byte[] changed;
          switch (data.consumeInt(0, 3)) {
            case 0 -> { // leading zero byte: same integer, another length
              changed = new byte[bytes.length + 1];
              System.arraycopy(bytes, 0, changed, 1, bytes.length);
            }
            case 1 ->
                changed = Arrays.copyOf(bytes, Math.max(0, bytes.length - data.consumeInt(1, 8)));
            case 2 -> changed = Arrays.copyOf(bytes, bytes.length + data.consumeInt(1, 8));
            default -> {
              changed = bytes.clone();
              if (changed.length > 0) {
                int at = data.consumeInt(0, changed.length - 1);
                changed[at] ^= (byte) (1 << data.consumeInt(0, 7));
              }
            }
          }
          parts[part] = URL.encodeToString(changed);
          return String.join(".", parts);
        }
      case 11: // the platform's marker in place of the signature
        parts[parts.length - 1] = CompactJws.SIGNATURE_REMOVED_BY_GOOGLE;
        return String.join(".", parts);
      case 12:
        { // add or drop a separator, or wrap in whitespace
          return switch (data.consumeInt(0, 4)) {
            case 0 -> token + ".";
            case 1 -> "." + token;
            case 2 -> token.replaceFirst("\\.", "..");
            case 3 -> " " + token + "\t";
            default -> token.replaceFirst("\\.", "");
          };
        }
      default:
        { // change the case of one character
          if (token.isEmpty()) {
            return token;
          }
          int at = data.consumeInt(0, token.length() - 1);
          char c = token.charAt(at);
          char swapped =
              Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c);
          return token.substring(0, at) + swapped + token.substring(at + 1);
        }
    }
  }

  private static String decode(String[] parts, int index) {
    byte[] bytes = index < parts.length ? decodeBytes(parts[index]) : null;
    return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
  }

  private static byte[] decodeBytes(String part) {
    try {
      return LENIENT.decode(part);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
