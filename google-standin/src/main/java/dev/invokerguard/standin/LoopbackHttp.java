package dev.invokerguard.standin;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A JDK HTTP server on a free loopback port, its threads daemons named after it: the API server and
 * every front end are one of these. Also the small HTTP pieces the stand-in's APIs share.
 */
final class LoopbackHttp implements AutoCloseable {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final HttpServer server;
  private final ExecutorService executor;

  /** Binds a free port on 127.0.0.1 and starts serving every path with {@code handler}. */
  LoopbackHttp(String threadName, HttpHandler handler) {
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    executor =
        Executors.newCachedThreadPool(
            runnable -> {
              Thread thread = new Thread(runnable, threadName);
              // Daemon threads: a test that forgets close() must not keep the JVM alive.
              thread.setDaemon(true);
              return thread;
            });
    server.setExecutor(executor);
    server.createContext("/", handler);
    server.start();
  }

  int port() {
    return server.getAddress().getPort();
  }

  /** {@code 127.0.0.1:PORT}, the Host header of a request sent to this server by address. */
  String authority() {
    return "127.0.0.1:" + port();
  }

  /** {@code http://127.0.0.1:PORT/}. */
  URI uri() {
    return URI.create("http://" + authority() + "/");
  }

  /** A query string or form body as a map (the first value of each name). */
  static Map<String, String> form(String query) {
    Map<String, String> out = new LinkedHashMap<>();
    if (query == null || query.isEmpty()) {
      return out;
    }
    for (String pair : query.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value =
          eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      out.putIfAbsent(key, value);
    }
    return out;
  }

  static byte[] randomBytes(int n) {
    byte[] bytes = new byte[n];
    RANDOM.nextBytes(bytes);
    return bytes;
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
