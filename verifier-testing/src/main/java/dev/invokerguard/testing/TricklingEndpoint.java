package dev.invokerguard.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A key endpoint on 127.0.0.1 that accepts the connection, reads the request, sends {@code HTTP/1.1
 * 200 OK} and then one header byte per {@code byteInterval}, for as long as the client stays: each
 * read gets a byte before any per-read timeout shorter than the interval fires, so only a deadline
 * on the whole fetch ends it. A raw socket server, because the JDK's HTTP server cannot send part
 * of a header.
 *
 * <p>{@link #heal} makes the connections accepted from then on get a normal {@code 200} with a key
 * set; connections already trickling keep trickling. Thread-safe; {@link #close} closes every
 * socket and ends every thread it started.
 *
 * <p>This module is for tests and local development only and is never deployed.
 */
public final class TricklingEndpoint implements AutoCloseable {
  private final ServerSocket server;
  private final Duration byteInterval;
  private final RequestCounter connections = new RequestCounter();
  private final AtomicReference<byte[]> healedBody = new AtomicReference<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final List<Thread> threads = new CopyOnWriteArrayList<>();
  private final CountDownLatch closed = new CountDownLatch(1);

  private TricklingEndpoint(Duration byteInterval) {
    this.byteInterval = Objects.requireNonNull(byteInterval, "byteInterval");
    try {
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind a loopback port for the trickling endpoint", e);
    }
    start("trickling-endpoint-accept", this::acceptLoop);
  }

  /**
   * Starts an endpoint that sends one header byte per {@code byteInterval}.
   *
   * @param byteInterval the pause between two header bytes; shorter than the client's read timeout
   *     to show that the read timeout alone does not bound a fetch
   */
  public static TricklingEndpoint start(Duration byteInterval) {
    return new TricklingEndpoint(byteInterval);
  }

  /** {@code http://127.0.0.1:PORT/certs}. */
  public URI uri() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/certs");
  }

  /**
   * From now on, answers new connections with {@code 200}, {@code Cache-Control: public,
   * max-age=3600} and {@code keySetJson} (for example {@link TestIssuer#jwksJson()}).
   *
   * @return this endpoint, for chaining
   */
  public TricklingEndpoint heal(String keySetJson) {
    healedBody.set(keySetJson.getBytes(StandardCharsets.UTF_8));
    return this;
  }

  /**
   * From now on, trickles again on new connections (the state after {@link #start}).
   *
   * @return this endpoint, for chaining
   */
  public TricklingEndpoint trickle() {
    healedBody.set(null);
    return this;
  }

  /** How many connections are open now: accepted and neither answered nor hung up on. */
  public int openConnectionCount() {
    return sockets.size();
  }

  /** How many connections were accepted so far. */
  public int connectionCount() {
    return connections.count();
  }

  /**
   * Waits until at least {@code count} connections were accepted, or {@code timeout} passes.
   *
   * @return whether the count was reached
   */
  public boolean awaitConnectionCount(int count, Duration timeout) throws InterruptedException {
    return connections.await(count, timeout);
  }

  @Override
  public void close() {
    closed.countDown();
    try {
      server.close();
    } catch (IOException ignored) {
      // Closing anyway.
    }
    for (Socket socket : sockets) {
      try {
        socket.close();
      } catch (IOException ignored) {
        // Closing anyway.
      }
    }
    for (Thread thread : threads) {
      thread.interrupt();
      try {
        thread.join(TimeUnit.SECONDS.toMillis(10));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private void start(String name, Runnable body) {
    Thread thread = new Thread(body, name);
    thread.setDaemon(true); // a test that forgets close() must not keep the JVM alive
    threads.add(thread);
    thread.start();
  }

  private void acceptLoop() {
    while (closed.getCount() > 0) {
      Socket socket;
      try {
        socket = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      sockets.add(socket);
      connections.increment();
      start("trickling-endpoint-" + connections.count(), () -> answer(socket));
    }
  }

  private void answer(Socket socket) {
    try (socket;
        InputStream in = socket.getInputStream();
        OutputStream out = socket.getOutputStream()) {
      readRequestHead(in);
      byte[] body = healedBody.get();
      if (body != null) {
        String head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + "Cache-Control: public, max-age=3600\r\nConnection: close\r\n"
                + "Content-Length: "
                + body.length
                + "\r\n\r\n";
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        return;
      }
      out.write("HTTP/1.1 200 OK\r\nX-Trickle: ".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      while (!closed.await(byteInterval.toNanos(), TimeUnit.NANOSECONDS)) {
        out.write('a');
        out.flush();
      }
    } catch (IOException e) {
      // The client hung up: what a deadline on the whole fetch should do.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      sockets.remove(socket);
    }
  }

  /** Reads up to the blank line that ends the request head. */
  private static void readRequestHead(InputStream in) throws IOException {
    int matched = 0; // how much of "\r\n\r\n" was seen last
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("request ended early");
      }
      matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
  }
}
