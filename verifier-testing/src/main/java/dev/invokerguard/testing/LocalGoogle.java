package dev.invokerguard.testing;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the stand-ins for Google as a process, for a local run of the protected function and the
 * client without a Google account: one {@link TestIssuer} (key endpoint) and one {@link
 * MetadataServer} per service account, all on 127.0.0.1, until the process is stopped.
 *
 * <pre>
 * java -cp verifier-testing.jar:gson.jar dev.invokerguard.testing.LocalGoogle \
 *     [--jwks-port N] --account EMAIL[=PORT] [--account EMAIL[=PORT]]...
 * </pre>
 *
 * <p>It prints one line {@code jwks-uri URI} (the key endpoint the function must use), one line
 * {@code metadata-host EMAIL HOST:PORT} per account (the {@code GCE_METADATA_HOST} value under
 * which a client gets that account's tokens), then {@code ready}.
 *
 * <p>This module is for tests and local development only and is never deployed: anyone who can
 * reach these ports gets tokens that a verifier configured with this key endpoint accepts.
 */
public final class LocalGoogle {

  private LocalGoogle() {}

  /**
   * Starts the stand-ins, prints where they listen, and serves until the process is stopped.
   *
   * @param args {@code [--jwks-port N] --account EMAIL[=PORT]...}
   * @throws InterruptedException when the main thread is interrupted
   */
  public static void main(String[] args) throws InterruptedException {
    TestIssuer issuer;
    try {
      issuer = start(args, System.out);
    } catch (IllegalArgumentException e) {
      System.err.println("LocalGoogle: " + e.getMessage());
      System.err.println(
          "usage: LocalGoogle [--jwks-port N] --account EMAIL[=PORT] [--account EMAIL[=PORT]]...");
      System.exit(2);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(issuer::close, "local-google-shutdown"));
    new CountDownLatch(1).await(); // the servers run on their own threads until the JVM stops
  }

  /** Parses {@code args}, starts the servers, prints their addresses to {@code out}. */
  static TestIssuer start(String[] args, PrintStream out) {
    int jwksPort = 0;
    List<String> accounts = new ArrayList<>();
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("missing value after " + arg);
      }
      String value = args[++i];
      switch (arg) {
        case "--jwks-port" -> jwksPort = parsePort(value);
        case "--account" -> {
          int equals = value.indexOf('=');
          accounts.add(equals < 0 ? value : value.substring(0, equals));
          ports.add(equals < 0 ? 0 : parsePort(value.substring(equals + 1)));
        }
        default -> throw new IllegalArgumentException("unknown option " + arg);
      }
    }
    if (accounts.isEmpty()) {
      throw new IllegalArgumentException("give at least one --account EMAIL");
    }
    TestIssuer issuer = TestIssuer.builder().port(jwksPort).start();
    try {
      out.println("jwks-uri " + issuer.jwksUri());
      for (int i = 0; i < accounts.size(); i++) {
        MetadataServer metadata = issuer.startMetadataServer(accounts.get(i), ports.get(i));
        out.println("metadata-host " + accounts.get(i) + " " + metadata.host());
      }
      out.println("ready");
      out.flush();
      return issuer;
    } catch (RuntimeException e) {
      issuer.close();
      throw e;
    }
  }

  private static int parsePort(String value) {
    try {
      int port = Integer.parseInt(value);
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port out of range: " + value);
      }
      return port;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a port number: " + value, e);
    }
  }
}
