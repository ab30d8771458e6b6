package dev.invokerguard.localrun;

import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.MetadataServer;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Runs the protected function on this machine without a Google account: a {@link TestIssuer} stands
 * in for Google (its keys served on loopback), the real Functions Framework invoker serves {@code
 * ProtectedFunction} in a child JVM configured to trust that issuer, and ready-to-paste {@code
 * curl} commands with fresh tokens are printed: one for the allowed development caller (200), one
 * for a stranger (403). Two metadata-server stand-ins, one per account, let the {@code invoke} CLI
 * get those tokens the way it does in a pod; its commands are printed too. Ctrl-C stops everything.
 * Started by {@code ./run-local.sh}.
 *
 * <p>Development only: the issuer hands out tokens to anyone who asks this process, so none of this
 * is ever part of the deployed artifact.
 */
public final class LocalRun implements AutoCloseable {
  /** The development service account that the local function allows. */
  public static final String ALLOWED_CALLER =
      "local-client@invoker-guard-dev.iam.gserviceaccount.com";

  /** A well-formed service account that is not on the allowlist. */
  public static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";

  static final String FUNCTION_TARGET = "dev.invokerguard.function.ProtectedFunction";
  static final int DEFAULT_PORT = 8080;
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private final TestIssuer issuer;
  private final ChildJvm invoker;
  private final int port;
  private final Map<String, MetadataServer> metadataServers;

  private LocalRun(
      TestIssuer issuer, ChildJvm invoker, int port, Map<String, MetadataServer> metadataServers) {
    this.issuer = issuer;
    this.invoker = invoker;
    this.port = port;
    this.metadataServers = metadataServers;
  }

  /**
   * Starts the issuer and the function, waits until the function answers, and prints the curl
   * commands to {@code out}.
   *
   * @param port the local port of the function
   * @param childOutputInherited whether the invoker's output (its decision log) goes to this
   *     process's stdout; otherwise it is kept in files, for tests
   * @throws IllegalStateException when the port is taken or the function does not start
   */
  public static LocalRun start(int port, boolean childOutputInherited, PrintStream out) {
    Objects.requireNonNull(out, "out");
    requireFree(port);
    TestIssuer issuer = TestIssuer.start();
    try {
      Map<String, MetadataServer> metadataServers = new LinkedHashMap<>(); // closed with the issuer
      for (String account : new String[] {ALLOWED_CALLER, STRANGER}) {
        metadataServers.put(account, issuer.startMetadataServer(account));
      }
      String audience = audience(port);
      Map<String, String> env = new LinkedHashMap<>();
      env.put("ALLOWED_INVOKERS", ALLOWED_CALLER);
      env.put("EXPECTED_AUDIENCES", audience);
      env.put("JWKS_URL", issuer.jwksUri().toString());
      env.put("TOKEN_ISSUERS", issuer.issuer());
      ChildJvm.Builder builder =
          ChildJvm.functionsInvoker(FUNCTION_TARGET, port)
              .env(env)
              // Jetty's and the invoker's start-up chatter would interleave with the curl commands;
              // the function's own decision lines go to stdout and stay visible.
              .jvmOptions("-Djava.util.logging.config.file=" + quietLoggingConfig());
      if (childOutputInherited) {
        builder.inheritOutput();
      }
      ChildJvm invoker = builder.start();
      LocalRun run = new LocalRun(issuer, invoker, port, metadataServers);
      try {
        invoker.awaitPort(port, START_TIMEOUT);
      } catch (RuntimeException e) {
        run.close();
        throw e;
      }
      run.printInstructions(out);
      return run;
    } catch (RuntimeException e) {
      issuer.close();
      throw e;
    }
  }

  /** {@code ./run-local.sh [--port N]}: runs until Ctrl-C, or until the function exits. */
  public static void main(String[] args) {
    int port;
    try {
      port = parsePort(args);
    } catch (IllegalArgumentException e) {
      System.err.println("run-local: " + e.getMessage());
      System.err.println("usage: ./run-local.sh [--port N]   (default " + DEFAULT_PORT + ")");
      System.exit(2);
      return;
    }
    LocalRun run;
    try {
      run = start(port, true, System.out);
    } catch (IllegalStateException e) {
      System.err.println("run-local: " + e.getMessage());
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(run::close, "run-local-shutdown"));
    int exitCode = run.invoker.awaitExit(Duration.ofDays(365));
    System.err.println("run-local: the function exited with " + exitCode);
    System.exit(exitCode == 0 ? 1 : exitCode);
  }

  /** The function's base URL, which is also the audience its tokens must name. */
  public String url() {
    return audience(port);
  }

  /** A fresh token (one hour) for {@code email}, for this function's audience. */
  public String tokenFor(String email) {
    return issuer.mint(email, url());
  }

  /**
   * The {@code GCE_METADATA_HOST} value under which a client gets {@code email}'s tokens ({@link
   * #ALLOWED_CALLER} or {@link #STRANGER}).
   */
  public String metadataHost(String email) {
    return metadataServers.get(email).host();
  }

  /** The running invoker. */
  public ChildJvm invoker() {
    return invoker;
  }

  /** Stops the function, then the issuer. */
  @Override
  public void close() {
    invoker.close();
    issuer.close();
  }

  static String audience(int port) {
    return "http://localhost:" + port;
  }

  static int parsePort(String[] args) {
    if (args.length == 0) {
      return DEFAULT_PORT;
    }
    if (args.length != 2 || !args[0].equals("--port")) {
      throw new IllegalArgumentException("unexpected arguments " + String.join(" ", args));
    }
    try {
      int port = Integer.parseInt(args[1]);
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("--port must be 1 to 65535, got " + args[1]);
      }
      return port;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--port must be a number, got " + args[1]);
    }
  }

  private static String quietLoggingConfig() {
    try {
      Path config = Files.createTempFile("run-local-logging", ".properties");
      config.toFile().deleteOnExit();
      Files.writeString(
          config,
          "handlers=java.util.logging.ConsoleHandler\n.level=WARNING\n",
          StandardCharsets.UTF_8);
      return config.toString();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void requireFree(int port) {
    try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      // Bound and closed at once: only to fail early with a message that says what to do.
    } catch (IOException e) {
      throw new IllegalStateException(
          "port " + port + " is in use; pick another with ./run-local.sh --port N");
    }
  }

  private void printInstructions(PrintStream out) {
    out.println();
    out.println("invoker-guard is running locally:");
    out.println(
        "  function  "
            + url()
            + "/  (Functions Framework invoker, pid "
            + invoker.process().pid()
            + ")");
    out.println(
        "  issuer    " + issuer.jwksUri() + "  (development issuer standing in for Google)");
    out.println("  allowed   " + ALLOWED_CALLER);
    out.println();
    out.println("Allowed caller, expect 200:");
    out.println(curl(tokenFor(ALLOWED_CALLER)));
    out.println();
    out.println("Stranger " + STRANGER + ", expect 403:");
    out.println(curl(tokenFor(STRANGER)));
    out.println();
    out.println("With the invoke CLI, each account's token from its own local metadata server,");
    out.println("as in a pod. Allowed caller, expect 200:");
    out.println(invoke(ALLOWED_CALLER));
    out.println();
    out.println("Stranger, expect 403:");
    out.println(invoke(STRANGER));
    out.println();
    out.println("Tokens are valid for one hour. Ctrl-C stops the function and the issuer.");
    out.flush();
  }

  private String invoke(String email) {
    return "GCE_METADATA_HOST="
        + metadataHost(email)
        + " java -jar client/target/invoke.jar "
        + url();
  }

  private String curl(String token) {
    return "curl -i -H 'Authorization: Bearer " + token + "' " + url() + "/";
  }
}
