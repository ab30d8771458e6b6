package dev.invokerguard.testing;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.RSAPublicKeySpec;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/** Independent, test-only JWT reading and JWKS parsing, to check the issuer from the outside. */
final class Jwt {

  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private Jwt() {}

  static JsonObject header(String token) {
    return JsonParser.parseString(decodePart(token, 0)).getAsJsonObject();
  }

  static JsonObject payload(String token) {
    return JsonParser.parseString(decodePart(token, 1)).getAsJsonObject();
  }

  static String decodePart(String token, int index) {
    String[] parts = token.split("\\.", -1);
    return new String(Base64.getUrlDecoder().decode(parts[index]), StandardCharsets.UTF_8);
  }

  static String signaturePart(String token) {
    return token.split("\\.", -1)[2];
  }

  /** Checks an RS256 signature with the JDK, as RFC 7518 section 3.3 describes. */
  static boolean signatureValid(String token, PublicKey key) throws GeneralSecurityException {
    int lastDot = token.lastIndexOf('.');
    Signature verifier = Signature.getInstance("SHA256withRSA");
    verifier.initVerify(key);
    verifier.update(token.substring(0, lastDot).getBytes(StandardCharsets.US_ASCII));
    return verifier.verify(Base64.getUrlDecoder().decode(token.substring(lastDot + 1)));
  }

  static HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
    return HTTP.send(
        HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Fetches a JWKS and returns its RSA keys by kid, insisting on Google's member set. */
  static Map<String, RSAPublicKey> fetchKeys(URI jwksUri) throws Exception {
    HttpResponse<String> response = get(jwksUri);
    if (response.statusCode() != 200) {
      throw new AssertionError("JWKS status " + response.statusCode());
    }
    Map<String, RSAPublicKey> keys = new LinkedHashMap<>();
    for (JsonElement element :
        JsonParser.parseString(response.body()).getAsJsonObject().getAsJsonArray("keys")) {
      JsonObject jwk = element.getAsJsonObject();
      if (!jwk.get("kty").getAsString().equals("RSA")
          || !jwk.get("alg").getAsString().equals("RS256")
          || !jwk.get("use").getAsString().equals("sig")) {
        throw new AssertionError("not a Google-shaped JWK: " + jwk.keySet());
      }
      BigInteger n = unsigned(jwk.get("n").getAsString());
      BigInteger e = unsigned(jwk.get("e").getAsString());
      keys.put(
          jwk.get("kid").getAsString(),
          (RSAPublicKey) KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(n, e)));
    }
    return keys;
  }

  private static BigInteger unsigned(String base64Url) {
    if (base64Url.contains("=")) {
      throw new AssertionError("JWK values must be base64url without padding");
    }
    return new BigInteger(1, Base64.getUrlDecoder().decode(base64Url));
  }
}
