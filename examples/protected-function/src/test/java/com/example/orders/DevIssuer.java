package com.example.orders;

import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.CountDownLatch;

/**
 * Local runs without a Google account: a development issuer standing in for Google (its keys on
 * loopback), for {@code mvn function:run}. Writes the function's settings and two fresh one-hour
 * tokens to {@code target/dev-issuer.env}, prints them, and serves the keys until stopped.
 *
 * <p>{@code mvn -q exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=com.example.orders.DevIssuer -Dexec.args=8080} (the function's port).
 */
public final class DevIssuer {
  static final String ALLOWED = "orders-client@client-project.iam.gserviceaccount.com";
  static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";

  private DevIssuer() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    int functionPort = args.length > 0 ? Integer.parseInt(args[0]) : 8080;
    String audience = "http://localhost:" + functionPort;
    TestIssuer issuer = TestIssuer.start();
    Runtime.getRuntime().addShutdownHook(new Thread(issuer::close));
    String settings =
        String.join(
            "\n",
            "ALLOWED_INVOKERS=" + ALLOWED,
            "EXPECTED_AUDIENCES=" + audience,
            "JWKS_URL=" + issuer.jwksUri(),
            "TOKEN_ISSUERS=" + issuer.issuer(),
            "ALLOWED_TOKEN=" + issuer.mint(ALLOWED, audience),
            "STRANGER_TOKEN=" + issuer.mint(STRANGER, audience),
            "");
    // Written whole, then moved: a script waiting for the file never reads half of it.
    Path out = Path.of("target", "dev-issuer.env");
    Files.createDirectories(out.getParent());
    Path partial =
        Files.writeString(
            out.resolveSibling("dev-issuer.env.partial"), settings, StandardCharsets.UTF_8);
    Files.move(partial, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    System.out.print(settings);
    System.out.println("Settings and tokens written to " + out + "; Ctrl-C stops the issuer.");
    new CountDownLatch(1).await();
  }
}
