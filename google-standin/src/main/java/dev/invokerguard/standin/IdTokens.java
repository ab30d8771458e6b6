package dev.invokerguard.standin;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.TestIssuer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.time.Instant;
import java.util.Base64;
import java.util.Collection;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Set;

/**
 * The front end's check of an ID token, as Google's front end does it for a function that requires
 * authentication: RS256 signed by the issuer's key, Google's issuer, not expired, an audience that
 * is one of the function's URLs, and an email. Returns the email or nothing.
 */
final class IdTokens {
  private static final Set<String> ISSUERS =
      Set.of("https://accounts.google.com", "accounts.google.com");

  private IdTokens() {}

  static Optional<String> verifiedEmail(
      String token, TestIssuer issuer, Collection<String> audiences, Instant now) {
    try {
      String[] parts = token.split("\\.", -1);
      if (parts.length != 3) {
        return Optional.empty();
      }
      JsonObject header = decode(parts[0]);
      JsonObject claims = decode(parts[1]);
      if (!"RS256".equals(Json.string(header, "alg")) || Json.string(header, "kid") == null) {
        return Optional.empty();
      }
      PublicKey key = issuer.publicKey(Json.string(header, "kid"));
      Signature verifier = Signature.getInstance("SHA256withRSA");
      verifier.initVerify(key);
      verifier.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
      if (!verifier.verify(Base64.getUrlDecoder().decode(parts[2]))) {
        return Optional.empty();
      }
      if (!ISSUERS.contains(Json.string(claims, "iss"))
          || !audiences.contains(Json.string(claims, "aud"))
          || !claims.has("exp")
          || claims.get("exp").getAsLong() <= now.getEpochSecond()) {
        return Optional.empty();
      }
      return Optional.ofNullable(Json.string(claims, "email"));
    } catch (RuntimeException | GeneralSecurityException e) {
      // NoSuchElementException (unknown kid), bad base64 or JSON: not a valid token.
      return Optional.empty();
    }
  }

  private static JsonObject decode(String part) {
    JsonElement element =
        JsonParser.parseString(
            new String(Base64.getUrlDecoder().decode(part), StandardCharsets.UTF_8));
    if (!element.isJsonObject()) {
      throw new NoSuchElementException("not a JSON object");
    }
    return element.getAsJsonObject();
  }
}
