package dev.invokerguard.standin;

import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.util.Base64;

/**
 * A service-account key file as Google issues it (a real RSA key generated now), whose {@code
 * token_uri} is the stand-in's token endpoint, and the public key the token endpoint checks its
 * assertions with. One shape for the key the test activates gcloud with and the keys the IAM API
 * creates.
 */
record ServiceAccountKeyFile(PublicKey publicKey, JsonObject json) {

  static ServiceAccountKeyFile generate(
      String keyId, String project, String email, String uniqueId, java.net.URI baseUri) {
    KeyPair pair;
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048);
      pair = generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
    String pem =
        "-----BEGIN PRIVATE KEY-----\n"
            + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(pair.getPrivate().getEncoded())
            + "\n-----END PRIVATE KEY-----\n";
    JsonObject file = new JsonObject();
    file.addProperty("type", "service_account");
    file.addProperty("project_id", project);
    file.addProperty("private_key_id", keyId);
    file.addProperty("private_key", pem);
    file.addProperty("client_email", email);
    file.addProperty("client_id", uniqueId);
    file.addProperty("auth_uri", baseUri + "oauth2/auth");
    file.addProperty("token_uri", baseUri + "token/");
    file.addProperty("universe_domain", "googleapis.com");
    return new ServiceAccountKeyFile(pair.getPublic(), file);
  }
}
