package dev.invokerguard.verifier;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads a JOSE header and a JWT claims set with gson's streaming reader in strict mode, keeping
 * only the members the verifier judges and skipping the rest. Streaming (rather than a parse tree)
 * lets us refuse duplicate member names, which RFC 7515 section 5.2 and RFC 7519 section 7.2 say a
 * recipient must reject or resolve, and which an attacker could otherwise use to show one value to
 * us and another to the code behind us.
 */
final class JoseJson {
  /** The largest NumericDate accepted: 9999-12-31T23:59:59Z. Beyond that Instant math is unsafe. */
  private static final long MAX_NUMERIC_DATE = 253_402_300_799L;

  private JoseJson() {}

  /** The JOSE header members the verifier judges (RFC 7515 section 4.1). */
  record Header(String alg, String kid, String typ, boolean hasCrit) {}

  /** The claims the verifier judges (RFC 7519 section 4.1, OpenID Connect Core 5.1). */
  record Claims(
      String iss,
      List<String> aud,
      String sub,
      String email,
      boolean emailVerified,
      Long exp,
      Long iat,
      Long nbf) {}

  /** A member had the wrong JSON type. */
  static final class WrongTypeException extends Exception {
    private static final long serialVersionUID = 1L;

    WrongTypeException(String member) {
      super(member, null, false, false);
    }

    String member() {
      return getMessage();
    }
  }

  static Header readHeader(byte[] utf8) throws IOException, WrongTypeException {
    JsonReader reader = strictReader(utf8);
    String alg = null;
    String kid = null;
    String typ = null;
    boolean crit = false;
    Set<String> seen = new HashSet<>();
    reader.beginObject();
    while (reader.hasNext()) {
      String name = uniqueName(reader, seen);
      switch (name) {
        case "alg" -> alg = string(reader, name);
        case "kid" -> kid = string(reader, name);
        case "typ" -> typ = string(reader, name);
        case "crit" -> {
          crit = true;
          reader.skipValue();
        }
        default -> reader.skipValue();
      }
    }
    endDocument(reader);
    return new Header(alg, kid, typ, crit);
  }

  static Claims readClaims(byte[] utf8) throws IOException, WrongTypeException {
    JsonReader reader = strictReader(utf8);
    String iss = null;
    List<String> aud = null;
    String sub = null;
    String email = null;
    boolean emailVerified = false;
    Long exp = null;
    Long iat = null;
    Long nbf = null;
    Set<String> seen = new HashSet<>();
    reader.beginObject();
    while (reader.hasNext()) {
      String name = uniqueName(reader, seen);
      switch (name) {
        case "iss" -> iss = string(reader, name);
        case "aud" -> aud = audience(reader);
        case "sub" -> sub = string(reader, name);
        case "email" -> email = string(reader, name);
        case "email_verified" -> emailVerified = emailVerified(reader);
        case "exp" -> exp = numericDate(reader, name);
        case "iat" -> iat = numericDate(reader, name);
        case "nbf" -> nbf = numericDate(reader, name);
        default -> reader.skipValue();
      }
    }
    endDocument(reader);
    return new Claims(iss, aud, sub, email, emailVerified, exp, iat, nbf);
  }

  /**
   * The one strict JSON reader setup of this package (tokens here, key sets in {@link JwksParser}):
   * gson in strict mode (RFC 8259) over text decoded as strict UTF-8.
   *
   * @throws CharacterCodingException when the bytes are not UTF-8 (RFC 7515 section 4, RFC 8259
   *     section 8.1): a malformed sequence is an error, not a replacement character, so two
   *     different inputs never read as the same text
   */
  static JsonReader strictReader(byte[] utf8) throws CharacterCodingException {
    String text =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(utf8))
            .toString();
    JsonReader reader = new JsonReader(new StringReader(text));
    reader.setStrictness(Strictness.STRICT);
    return reader;
  }

  private static String uniqueName(JsonReader reader, Set<String> seen) throws IOException {
    String name = reader.nextName();
    if (!seen.add(name)) {
      throw new IOException("duplicate member");
    }
    return name;
  }

  private static void endDocument(JsonReader reader) throws IOException {
    reader.endObject();
    if (reader.peek() != JsonToken.END_DOCUMENT) {
      throw new IOException("trailing data");
    }
  }

  private static String string(JsonReader reader, String name)
      throws IOException, WrongTypeException {
    if (reader.peek() != JsonToken.STRING) {
      reader.skipValue();
      throw new WrongTypeException(name);
    }
    return reader.nextString();
  }

  /** RFC 7519 section 4.1.3: a single string or an array of strings. */
  private static List<String> audience(JsonReader reader) throws IOException, WrongTypeException {
    JsonToken token = reader.peek();
    if (token == JsonToken.STRING) {
      return List.of(reader.nextString());
    }
    if (token != JsonToken.BEGIN_ARRAY) {
      reader.skipValue();
      throw new WrongTypeException("aud");
    }
    List<String> values = new ArrayList<>(2);
    reader.beginArray();
    while (reader.hasNext()) {
      values.add(string(reader, "aud"));
    }
    reader.endArray();
    return values;
  }

  /** Google has sent {@code email_verified} both as a boolean and as the string "true". */
  private static boolean emailVerified(JsonReader reader) throws IOException {
    return switch (reader.peek()) {
      case BOOLEAN -> reader.nextBoolean();
      case STRING -> "true".equals(reader.nextString());
      default -> {
        reader.skipValue();
        yield false;
      }
    };
  }

  /**
   * RFC 7519 section 2: a JSON number of seconds since the epoch, possibly non-integer (truncated
   * to whole seconds here). Strings, negatives and values past year 9999 are wrong types.
   */
  private static Long numericDate(JsonReader reader, String name)
      throws IOException, WrongTypeException {
    if (reader.peek() != JsonToken.NUMBER) {
      reader.skipValue();
      throw new WrongTypeException(name);
    }
    String literal = reader.nextString();
    long seconds;
    if (literal.length() <= 12 && isDigits(literal)) {
      seconds = Long.parseLong(literal); // the common case, without BigDecimal
    } else {
      BigDecimal value;
      try {
        value = new BigDecimal(literal);
      } catch (NumberFormatException e) {
        throw new WrongTypeException(name);
      }
      if (value.signum() < 0 || value.compareTo(BigDecimal.valueOf(MAX_NUMERIC_DATE)) > 0) {
        throw new WrongTypeException(name);
      }
      seconds = value.longValue();
    }
    if (seconds > MAX_NUMERIC_DATE) {
      throw new WrongTypeException(name);
    }
    return seconds;
  }

  private static boolean isDigits(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }
}
