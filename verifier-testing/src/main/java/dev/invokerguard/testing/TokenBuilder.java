package dev.invokerguard.testing;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Builds one token of a {@link TestIssuer}, starting from the Google shape of {@link
 * TestIssuer#mint} and letting a test change any part of it, including into something invalid:
 * wrong or missing claims, odd headers, another key, a replaced signature, or arbitrary JSON text.
 *
 * <p>Claim and header values may be {@code String}, {@code Number}, {@code Boolean}, {@code List},
 * {@code Map} (nested freely), a gson {@link JsonElement}, an {@link Instant} (written as seconds
 * since the epoch, RFC 7519 section 2 NumericDate), or null (written as JSON {@code null}). Later
 * calls override earlier ones for the same name. Not thread-safe; use one builder per token.
 *
 * <p>This module is for tests and local development only and is never deployed.
 */
public final class TokenBuilder {

  private static final Base64.Encoder BASE64URL = Base64.getUrlEncoder().withoutPadding();

  private final TestIssuer issuer;

  private String email;
  private String subject;
  private List<String> audiences;
  private String iss;
  private Instant issuedAt;
  private Instant expiresAt;
  private Instant notBefore;
  private boolean withoutEmail;
  private final Map<String, JsonElement> claims = new LinkedHashMap<>();
  private final Set<String> removedClaims = new LinkedHashSet<>();
  private final Map<String, JsonElement> headers = new LinkedHashMap<>();
  private final Set<String> removedHeaders = new LinkedHashSet<>();
  private String keyIdHeader;
  private String signingKid;
  private PrivateKey signingKey;
  private String signature;
  private String rawHeaderJson;
  private String rawPayloadJson;

  TokenBuilder(TestIssuer issuer) {
    this.issuer = issuer;
    this.iss = issuer.issuer();
  }

  /**
   * Sets the caller: {@code email}, {@code azp} = email, {@code email_verified} = true, and {@code
   * sub} = {@link TestIssuer#uniqueIdOf(String) uniqueIdOf(email)} unless {@link #subject} is set.
   * Required before {@link #build}.
   *
   * @param email the service-account email
   * @return this builder
   */
  public TokenBuilder email(String email) {
    this.email = Objects.requireNonNull(email, "email");
    return this;
  }

  /**
   * Sets {@code sub} instead of the unique ID derived from the email.
   *
   * @param subject the subject claim
   * @return this builder
   */
  public TokenBuilder subject(String subject) {
    this.subject = Objects.requireNonNull(subject, "subject");
    return this;
  }

  /**
   * Sets {@code aud} to the single string {@code audience}. Required (or {@link #audiences}, or
   * {@code removeClaim("aud")}) before {@link #build}.
   *
   * @param audience the audience
   * @return this builder
   */
  public TokenBuilder audience(String audience) {
    return audiences(Objects.requireNonNull(audience, "audience"));
  }

  /**
   * Sets {@code aud}: a JSON string for one audience, a JSON array for several or none (RFC 7519
   * section 4.1.3 allows both forms).
   *
   * @param audiences the audiences
   * @return this builder
   */
  public TokenBuilder audiences(String... audiences) {
    this.audiences = List.of(audiences);
    claims.remove("aud");
    removedClaims.remove("aud");
    return this;
  }

  /**
   * Sets {@code iss} (default the issuer's identifier).
   *
   * @param issuer the issuer claim
   * @return this builder
   */
  public TokenBuilder issuer(String issuer) {
    this.iss = Objects.requireNonNull(issuer, "issuer");
    return this;
  }

  /**
   * Sets {@code iat} (default the issuer clock's now), in whole seconds.
   *
   * @param issuedAt the issue time
   * @return this builder
   */
  public TokenBuilder issuedAt(Instant issuedAt) {
    this.issuedAt = Objects.requireNonNull(issuedAt, "issuedAt");
    return this;
  }

  /**
   * Sets {@code exp} (default {@code iat} + 1 hour, Google's lifetime), in whole seconds.
   *
   * @param expiresAt the expiry time
   * @return this builder
   */
  public TokenBuilder expiresAt(Instant expiresAt) {
    this.expiresAt = Objects.requireNonNull(expiresAt, "expiresAt");
    return this;
  }

  /**
   * Adds {@code nbf} (Google does not send it; absent by default), in whole seconds.
   *
   * @param notBefore the not-before time
   * @return this builder
   */
  public TokenBuilder notBefore(Instant notBefore) {
    this.notBefore = Objects.requireNonNull(notBefore, "notBefore");
    return this;
  }

  /**
   * Drops {@code email} and {@code email_verified}, and sets {@code azp} to the unique ID, as in
   * the standard-format tokens of the metadata server.
   *
   * @return this builder
   */
  public TokenBuilder withoutEmail() {
    this.withoutEmail = true;
    return this;
  }

  /**
   * Sets claim {@code name} to {@code value}, overriding the default or typed setter for that name.
   *
   * @param name the claim name
   * @param value the claim value (see the class javadoc for the types allowed)
   * @return this builder
   */
  public TokenBuilder claim(String name, Object value) {
    Objects.requireNonNull(name, "name");
    claims.put(name, toJson(value));
    removedClaims.remove(name);
    return this;
  }

  /**
   * Leaves claim {@code name} out of the payload, whatever set it.
   *
   * @param name the claim name
   * @return this builder
   */
  public TokenBuilder removeClaim(String name) {
    Objects.requireNonNull(name, "name");
    claims.remove(name);
    removedClaims.add(name);
    return this;
  }

  /**
   * Sets header parameter {@code name} to {@code value}, for example {@code header("alg", "none")}
   * or {@code header("crit", List.of("exp"))}. The token is still signed with RS256.
   *
   * @param name the header parameter name
   * @param value the value (see the class javadoc for the types allowed)
   * @return this builder
   */
  public TokenBuilder header(String name, Object value) {
    Objects.requireNonNull(name, "name");
    headers.put(name, toJson(value));
    removedHeaders.remove(name);
    return this;
  }

  /**
   * Leaves header parameter {@code name} out, for example {@code removeHeader("kid")}.
   *
   * @param name the header parameter name
   * @return this builder
   */
  public TokenBuilder removeHeader(String name) {
    Objects.requireNonNull(name, "name");
    headers.remove(name);
    removedHeaders.add(name);
    return this;
  }

  /**
   * Writes {@code kid} into the header without changing the signing key, for example a made-up id.
   *
   * @param kid the key id to write
   * @return this builder
   */
  public TokenBuilder keyId(String kid) {
    return header("kid", Objects.requireNonNull(kid, "kid"));
  }

  /**
   * Signs with this issuer's key {@code kid} (published or not) and writes that id into the header.
   *
   * @param kid a key id of the issuer
   * @return this builder
   * @throws java.util.NoSuchElementException when the issuer has no such key
   */
  public TokenBuilder signWithKey(String kid) {
    issuer.key(kid); // fail here, at the call that names the wrong key
    this.signingKid = kid;
    this.signingKey = null;
    return this;
  }

  /**
   * Signs with {@code key}, a key the issuer does not publish, while the header keeps naming the
   * issuer's key: a valid signature from the wrong key under a known {@code kid}.
   *
   * @param key an RSA private key
   * @return this builder
   */
  public TokenBuilder signWith(PrivateKey key) {
    this.signingKey = Objects.requireNonNull(key, "key");
    return this;
  }

  /**
   * Replaces the signature part verbatim, for example with {@code "SIGNATURE_REMOVED_BY_GOOGLE"} or
   * {@code ""}.
   *
   * @param rawPart the third part of the compact JWS, already encoded
   * @return this builder
   */
  public TokenBuilder signature(String rawPart) {
    this.signature = Objects.requireNonNull(rawPart, "rawPart");
    return this;
  }

  /**
   * Uses {@code json} verbatim as the header text (then base64url-encoded and signed), ignoring
   * every header setter, for example JSON with duplicate names or a JSON array.
   *
   * @param json any text
   * @return this builder
   */
  public TokenBuilder rawHeaderJson(String json) {
    this.rawHeaderJson = Objects.requireNonNull(json, "json");
    return this;
  }

  /**
   * Uses {@code json} verbatim as the payload text (then base64url-encoded and signed), ignoring
   * every claim setter, for example JSON with duplicate names or a JSON array.
   *
   * @param json any text
   * @return this builder
   */
  public TokenBuilder rawPayloadJson(String json) {
    this.rawPayloadJson = Objects.requireNonNull(json, "json");
    return this;
  }

  /**
   * Encodes and signs the token (RS256, RFC 7518 section 3.3).
   *
   * @return the compact JWS {@code header.payload.signature}
   * @throws IllegalStateException when no email or no audience was given and the payload is not raw
   */
  public String build() {
    SigningKey named = signingKid != null ? issuer.key(signingKid) : issuer.activeKey();
    String headerText = rawHeaderJson != null ? rawHeaderJson : headerJson(named.kid()).toString();
    String payloadText = rawPayloadJson != null ? rawPayloadJson : payloadJson().toString();
    String signingInput = encode(headerText) + "." + encode(payloadText);
    String signaturePart = signature;
    if (signaturePart == null) {
      PrivateKey key = signingKey != null ? signingKey : named.privateKey();
      signaturePart = BASE64URL.encodeToString(sign(key, signingInput));
    }
    return signingInput + "." + signaturePart;
  }

  private JsonObject headerJson(String kid) {
    JsonObject header = new JsonObject();
    header.addProperty("alg", "RS256");
    header.addProperty("kid", kid);
    header.addProperty("typ", "JWT");
    headers.forEach(header::add);
    removedHeaders.forEach(header::remove);
    return header;
  }

  private JsonObject payloadJson() {
    if (email == null) {
      throw new IllegalStateException(
          "call email(..) before build(): every Google ID token has one");
    }
    if (audiences == null && !removedClaims.contains("aud") && !claims.containsKey("aud")) {
      throw new IllegalStateException(
          "call audience(..) before build(), or removeClaim(\"aud\") to leave it out on purpose");
    }
    String sub = subject != null ? subject : TestIssuer.uniqueIdOf(email);
    Instant iat = issuedAt != null ? issuedAt : issuer.clock().instant();
    Instant exp = expiresAt != null ? expiresAt : iat.plus(Duration.ofHours(1));

    // Google's claim order (alphabetical), so tokens read like the real ones.
    JsonObject payload = new JsonObject();
    if (audiences != null) {
      payload.add(
          "aud", audiences.size() == 1 ? new JsonPrimitive(audiences.get(0)) : toJson(audiences));
    }
    payload.addProperty("azp", withoutEmail ? sub : email);
    if (!withoutEmail) {
      payload.addProperty("email", email);
      payload.addProperty("email_verified", true);
    }
    payload.addProperty("exp", exp.getEpochSecond());
    payload.addProperty("iat", iat.getEpochSecond());
    payload.addProperty("iss", iss);
    if (notBefore != null) {
      payload.addProperty("nbf", notBefore.getEpochSecond());
    }
    payload.addProperty("sub", sub);
    claims.forEach(payload::add);
    removedClaims.forEach(payload::remove);
    return payload;
  }

  private static String encode(String json) {
    return BASE64URL.encodeToString(json.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] sign(PrivateKey key, String signingInput) {
    try {
      Signature signer = Signature.getInstance("SHA256withRSA");
      signer.initSign(key);
      signer.update(signingInput.getBytes(StandardCharsets.US_ASCII));
      return signer.sign();
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot sign RS256 with the given key", e);
    }
  }

  /** Converts the value types documented on the class into gson's tree. */
  static JsonElement toJson(Object value) {
    if (value == null) {
      return JsonNull.INSTANCE;
    } else if (value instanceof JsonElement element) {
      return element.deepCopy();
    } else if (value instanceof String string) {
      return new JsonPrimitive(string);
    } else if (value instanceof Number number) {
      return new JsonPrimitive(number);
    } else if (value instanceof Boolean bool) {
      return new JsonPrimitive(bool);
    } else if (value instanceof Instant instant) {
      return new JsonPrimitive(instant.getEpochSecond());
    } else if (value instanceof Iterable<?> iterable) {
      JsonArray array = new JsonArray();
      iterable.forEach(item -> array.add(toJson(item)));
      return array;
    } else if (value instanceof Map<?, ?> map) {
      JsonObject object = new JsonObject();
      map.forEach((name, item) -> object.add(String.valueOf(name), toJson(item)));
      return object;
    }
    throw new IllegalArgumentException(
        "unsupported JSON value type "
            + value.getClass().getName()
            + ": use String, Number, Boolean, List, Map or a gson JsonElement");
  }
}
