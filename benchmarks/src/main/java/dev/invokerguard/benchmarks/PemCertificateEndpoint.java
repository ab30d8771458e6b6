package dev.invokerguard.benchmarks;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpServer;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The issuer's keys in the older format that google-api-client's {@code GooglePublicKeysManager}
 * reads (Google's {@code /oauth2/v1/certs}): a JSON object of {@code kid} to PEM X.509 certificate,
 * served on 127.0.0.1 with {@code Cache-Control: max-age=3600}.
 *
 * <p>Each certificate carries one of the {@link TestIssuer}'s public keys as its subject key. The
 * issuer does not expose its private keys, so the certificates are signed by a throwaway key made
 * here; that is enough, because the key manager takes only {@code getPublicKey()} from each
 * certificate and never checks the certificate's own signature. BouncyCastle builds them: the JDK
 * has no public API to create a certificate.
 */
final class PemCertificateEndpoint implements AutoCloseable {
  static final String PATH = "/oauth2/v1/certs";

  private final HttpServer server;

  private PemCertificateEndpoint(HttpServer server) {
    this.server = server;
  }

  /** Starts serving the certificates of every key {@code issuer} publishes. */
  static PemCertificateEndpoint start(TestIssuer issuer) {
    byte[] body = certificatesJson(issuer).getBytes(StandardCharsets.UTF_8);
    try {
      HttpServer server =
          HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      server.createContext(
          PATH,
          exchange -> {
            try (exchange) {
              exchange.getResponseHeaders().set("Content-Type", "application/json; charset=UTF-8");
              exchange.getResponseHeaders().set("Cache-Control", "public, max-age=3600");
              exchange.sendResponseHeaders(200, body.length);
              try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
              }
            }
          });
      server.start();
      return new PemCertificateEndpoint(server);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  URI uri() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + PATH);
  }

  @Override
  public void close() {
    server.stop(0);
  }

  private static String certificatesJson(TestIssuer issuer) {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048);
      KeyPair signer = generator.generateKeyPair();
      JsonObject json = new JsonObject();
      for (String kid : issuer.keyIds()) {
        json.addProperty(kid, pem(issuer.publicKey(kid), signer));
      }
      return json.toString();
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException("could not make the benchmark certificates", e);
    }
  }

  private static String pem(PublicKey subjectKey, KeyPair signer)
      throws OperatorCreationException, IOException {
    Instant now = Instant.now();
    X500Name name = new X500Name("CN=benchmark-issuer");
    X509v3CertificateBuilder builder =
        new X509v3CertificateBuilder(
            name,
            BigInteger.valueOf(now.toEpochMilli()),
            Date.from(now.minus(Duration.ofDays(1))),
            Date.from(now.plus(Duration.ofDays(14))),
            name,
            SubjectPublicKeyInfo.getInstance(subjectKey.getEncoded()));
    StringWriter text = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
      writer.writeObject(
          builder.build(new JcaContentSignerBuilder("SHA256withRSA").build(signer.getPrivate())));
    }
    return text.toString();
  }
}
