package dev.invokerguard.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A JDK HTTP server bound to 127.0.0.1 on a free port, with a thread pool so that one delayed
 * ("hanging") response does not hold up the others, and a close that releases delayed handlers at
 * once instead of waiting for their delay to run out.
 */
final class LoopbackServer implements AutoCloseable {

  private static final AtomicInteger THREAD_NUMBER = new AtomicInteger();

  private final String name;
  private final HttpServer server;
  private final ExecutorService executor;
  private final CountDownLatch closed = new CountDownLatch(1);

  LoopbackServer(String name) {
    this(name, 0);
  }

  /** Binds {@code port} on 127.0.0.1, or a free port when {@code port} is 0. */
  LoopbackServer(String name, int port) {
    this.name = name;
    InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    try {
      server = HttpServer.create(loopback, 0);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind a loopback port for " + name, e);
    }
    executor =
        Executors.newCachedThreadPool(
            runnable -> {
              Thread thread = new Thread(runnable, name + "-" + THREAD_NUMBER.incrementAndGet());
              // Daemon threads: a test that forgets close() must not keep the JVM alive.
              thread.setDaemon(true);
              return thread;
            });
    server.setExecutor(executor);
  }

  void handle(String path, HttpHandler handler) {
    server.createContext(
        path,
        exchange -> {
          try (exchange) {
            handler.handle(exchange);
          } catch (IOException e) {
            // The client went away (timeout, closed connection) or the server is closing: nothing
            // to answer to, and a stack trace here would only be noise in the test output.
          } catch (RuntimeException e) {
            // A bug in the stand-in: say so in the answer, so the test fails with a clue instead
            // of a dropped connection (fails if the headers already went out; nothing to add then).
            try {
              sendText(exchange, 500, name + " failed: " + e.getClass().getSimpleName());
            } catch (IOException | RuntimeException ignored) {
              // Headers already sent or client gone.
            }
          }
        });
  }

  void start() {
    server.start();
  }

  /** Returns "127.0.0.1:PORT". */
  String hostAndPort() {
    return server.getAddress().getAddress().getHostAddress() + ":" + server.getAddress().getPort();
  }

  URI uri(String path) {
    return URI.create("http://" + hostAndPort() + path);
  }

  /**
   * Waits for {@code delay} or until the server closes, whichever comes first.
   *
   * @return true when the delay ran out, false when the server closed meanwhile
   */
  boolean pause(Duration delay) {
    if (delay.isZero() || delay.isNegative()) {
      return true;
    }
    try {
      return !closed.await(delay.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  static void send(HttpExchange exchange, int status, byte[] body) throws IOException {
    // A zero length would mean "chunked" to the JDK server; -1 means an empty body.
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  static void sendText(HttpExchange exchange, int status, String body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=UTF-8");
    send(exchange, status, body.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    closed.countDown();
    server.stop(0);
    executor.shutdownNow();
  }
}
