package dev.invokerguard.standin;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Google's OAuth 2.0 token endpoint as a service-account key uses it (the JWT-bearer grant, RFC
 * 7523 section 2.1, signed with a key the stand-in made), and the access tokens it hands out, which
 * every other API of the stand-in checks ({@link #authenticate}).
 */
final class OAuthTokens {
  private final TestIssuer issuer;
  private final String project;
  private final Supplier<URI> baseUri;
  private final Map<String, PublicKey> keys = new ConcurrentHashMap<>();
  private final Map<String, String> accessTokens = new ConcurrentHashMap<>();
  private final AtomicInteger failuresLeft = new AtomicInteger();

  /**
   * @param baseUri the stand-in's address, whose {@code token/} path a key file's {@code token_uri}
   *     names
   */
  OAuthTokens(TestIssuer issuer, String project, Supplier<URI> baseUri) {
    this.issuer = issuer;
    this.project = project;
    this.baseUri = baseUri;
  }

  /** The public keys of the key files made so far, by key ID (the IAM API adds its own). */
  Map<String, PublicKey> keys() {
    return keys;
  }

  /** See {@link GoogleStandIn#writeServiceAccountKey}. */
  Path writeServiceAccountKey(String email, Path file) throws IOException {
    String keyId = HexFormat.of().formatHex(LoopbackHttp.randomBytes(20));
    ServiceAccountKeyFile key =
        ServiceAccountKeyFile.generate(
            keyId, project, email, TestIssuer.uniqueIdOf(email), baseUri.get());
    keys.put(keyId, key.publicKey());
    Files.writeString(file, key.json().toString());
    return file;
  }

  /**
   * The token endpoint's answer to a form body: an {@code id_token} from the issuer when the
   * assertion names a {@code target_audience}, an access token otherwise.
   */
  JsonObject token(String body) {
    if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      throw new ApiException(503, "UNAVAILABLE", "The service is currently unavailable.");
    }
    Map<String, String> form = LoopbackHttp.form(body);
    String assertion = form.get("assertion");
    if (!"urn:ietf:params:oauth:grant-type:jwt-bearer".equals(form.get("grant_type"))
        || assertion == null) {
      throw new ApiException(400, "INVALID_ARGUMENT", "invalid_grant");
    }
    String[] parts = assertion.split("\\.", -1);
    JsonObject claims;
    try {
      JsonObject header = Json.object(utf8(Base64.getUrlDecoder().decode(parts[0])));
      claims = Json.object(utf8(Base64.getUrlDecoder().decode(parts[1])));
      PublicKey key = keys.get(Json.string(header, "kid"));
      Signature verifier = Signature.getInstance("SHA256withRSA");
      verifier.initVerify(key);
      verifier.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
      if (key == null || !verifier.verify(Base64.getUrlDecoder().decode(parts[2]))) {
        throw new ApiException(400, "INVALID_ARGUMENT", "invalid_grant: bad signature");
      }
    } catch (GeneralSecurityException | RuntimeException e) {
      if (e instanceof ApiException api) {
        throw api;
      }
      throw new ApiException(400, "INVALID_ARGUMENT", "invalid_grant: unreadable assertion");
    }
    String email = Json.string(claims, "iss");
    JsonObject out = new JsonObject();
    String audience = Json.string(claims, "target_audience");
    if (audience != null) {
      out.addProperty("id_token", issuer.mint(email, audience));
      return out;
    }
    out.addProperty("access_token", newAccessToken(email));
    out.addProperty("expires_in", 3600);
    out.addProperty("token_type", "Bearer");
    return out;
  }

  /** See {@link GoogleStandIn#failNextTokenRequests}. */
  void failNext(int count) {
    failuresLeft.set(count);
  }

  /** The email of the caller's access token; 401 without a valid one. */
  String authenticate(HttpExchange exchange) {
    String header = exchange.getRequestHeaders().getFirst("Authorization");
    String token = header != null && header.startsWith("Bearer ") ? header.substring(7) : "";
    String email = accessTokens.get(token);
    if (email == null) {
      throw new ApiException(
          401,
          "UNAUTHENTICATED",
          "Request had invalid authentication credentials. Expected OAuth 2 access token.");
    }
    return email;
  }

  /** A new access token for {@code email} that the stand-in's APIs accept. */
  String newAccessToken(String email) {
    String accessToken = "ya29.standin-" + HexFormat.of().formatHex(LoopbackHttp.randomBytes(16));
    accessTokens.put(accessToken, email);
    return accessToken;
  }

  private static String utf8(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
