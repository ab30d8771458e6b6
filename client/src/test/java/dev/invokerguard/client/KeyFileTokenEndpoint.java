package dev.invokerguard.client;

import com.google.api.client.json.gson.GsonFactory;
import com.google.api.client.json.webtoken.JsonWebSignature;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback stand-in for Google's OAuth 2.0 token endpoint as a service-account key uses it: it
 * takes the JWT-bearer grant (RFC 7523 section 2.1) that google-auth-library signs with the key
 * file's private key, checks the signature against the key's public half, and answers an {@code
 * id_token} for the assertion's {@code target_audience}, minted by a {@link TestIssuer}. It also
 * writes the key file ({@link #writeKeyFile}) whose {@code token_uri} points at it.
 */
final class KeyFileTokenEndpoint implements AutoCloseable {

  private final TestIssuer issuer;
  private final String email;
  private final KeyPair key;
  private final HttpServer server;
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicInteger failuresLeft = new AtomicInteger();

  KeyFileTokenEndpoint(TestIssuer issuer, String email) throws Exception {
    this.issuer = issuer;
    this.email = email;
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    this.key = generator.generateKeyPair();
    this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/token", this::handle);
    server.start();
  }

  URI tokenUri() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/token");
  }

  /** Answers the next {@code count} token requests with 503. */
  void failNext(int count) {
    failuresLeft.set(count);
  }

  int requestCount() {
    return requests.get();
  }

  /** Writes a service-account key JSON, as the IAM console downloads it, into {@code dir}. */
  Path writeKeyFile(Path dir) throws IOException {
    String pem =
        "-----BEGIN PRIVATE KEY-----\n"
            + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(key.getPrivate().getEncoded())
            + "\n-----END PRIVATE KEY-----\n";
    JsonObject json = new JsonObject();
    json.addProperty("type", "service_account");
    json.addProperty("project_id", "proj-key");
    json.addProperty("private_key_id", "local-test-key");
    json.addProperty("private_key", pem);
    json.addProperty("client_email", email);
    json.addProperty("client_id", TestIssuer.uniqueIdOf(email));
    json.addProperty("token_uri", tokenUri().toString());
    Path file = dir.resolve("service-account.json");
    Files.writeString(file, json.toString());
    return file;
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      requests.incrementAndGet();
      if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        send(exchange, 503, "{\"error\":\"unavailable\"}");
        return;
      }
      Map<String, String> form =
          parseForm(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
      if (!"urn:ietf:params:oauth:grant-type:jwt-bearer".equals(form.get("grant_type"))) {
        send(exchange, 400, "{\"error\":\"unsupported_grant_type\"}");
        return;
      }
      JsonWebSignature assertion =
          JsonWebSignature.parse(GsonFactory.getDefaultInstance(), form.get("assertion"));
      boolean signed;
      try {
        signed = assertion.verifySignature(key.getPublic());
      } catch (GeneralSecurityException e) {
        signed = false;
      }
      Object audience = assertion.getPayload().get("target_audience");
      if (!signed || !email.equals(assertion.getPayload().getIssuer()) || audience == null) {
        send(exchange, 400, "{\"error\":\"invalid_grant\"}");
        return;
      }
      JsonObject answer = new JsonObject();
      answer.addProperty("id_token", issuer.mint(email, audience.toString()));
      send(exchange, 200, answer.toString());
    }
  }

  /** An {@code application/x-www-form-urlencoded} body as a map (the last value of a name wins). */
  static Map<String, String> parseForm(String body) {
    Map<String, String> form = new HashMap<>();
    for (String pair : body.split("&")) {
      int equals = pair.indexOf('=');
      if (equals > 0) {
        form.put(
            URLDecoder.decode(pair.substring(0, equals), StandardCharsets.UTF_8),
            URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8));
      }
    }
    return form;
  }

  /** Answers {@code json} with {@code status}. */
  static void send(HttpExchange exchange, int status, String json) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
