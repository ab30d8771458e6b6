package dev.invokerguard.verifier;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One {@code GET} of {@link KeyCacheConfig#jwksUri()} per {@link #fetch()}, on a connection opened
 * by the configured {@link KeyEndpointConnector} (the JDK's {@link HttpURLConnection} by default),
 * with no retries, no redirects and no caches. A connector that throws, even unchecked, is a failed
 * fetch. Only {@code 200} is a success. The body is capped at {@link
 * KeyCacheConfig#maxKeySetBytes()}: a larger {@code Content-Length} is refused before reading, and
 * reading stops as soon as the cap is passed, so no more than the cap is ever buffered. The body is
 * parsed by {@link JwksParser} (strict JSON; RSA keys for RS256 signatures only; a bad set is
 * refused whole), so keys are built once per fetch, never per request.
 *
 * <p>The whole fetch (connect, TLS handshake, status line, headers, body) has a hard deadline of
 * {@link KeyCacheConfig#keyFetchTimeout()} from its start. Connect and read timeouts of the same
 * length are set too, but a read timeout bounds one read only: a server that sends one header byte
 * per second never trips it. So a watchdog ({@value #WATCHDOG_THREAD_NAME}) gives the fetch up at
 * its deadline: its future fails and the connection is disconnected. A given-up fetch's thread may
 * stay blocked if the connection does not let go on disconnect (a TLS handshake in progress, a
 * custom connector); its outcome is then discarded, and it never stops the next fetch from
 * starting, since fetches run on a cached pool of daemon threads ({@value #THREAD_NAME}).
 */
final class HttpKeyFetcher implements KeyFetcher {
  static final String THREAD_NAME = "invoker-guard-jwks";
  static final String WATCHDOG_THREAD_NAME = "invoker-guard-jwks-watchdog";

  private final KeyCacheConfig config;
  private final ExecutorService executor;
  private final ScheduledThreadPoolExecutor watchdog;

  /** The connections of fetches under way, hung up by {@link #close()}. */
  private final Set<AtomicReference<HttpURLConnection>> open = ConcurrentHashMap.newKeySet();

  HttpKeyFetcher(KeyCacheConfig config) {
    this.config = Objects.requireNonNull(config, "config");
    // A cached pool, not one thread: a given-up fetch whose connection does not let go must not
    // queue the next fetch behind it. The policy starts fetches rarely and each one is given up
    // at its deadline, so the pool stays at one thread unless connections hang on.
    this.executor = Executors.newCachedThreadPool(daemon(THREAD_NAME));
    this.watchdog = new ScheduledThreadPoolExecutor(1, daemon(WATCHDOG_THREAD_NAME));
    watchdog.setRemoveOnCancelPolicy(true); // a fetch that ends in time leaves no task behind
  }

  private static ThreadFactory daemon(String name) {
    return runnable -> {
      Thread thread = new Thread(runnable, name);
      thread.setDaemon(true); // never keeps the JVM alive
      return thread;
    };
  }

  @Override
  public CompletableFuture<FetchedKeys> fetch() {
    CompletableFuture<FetchedKeys> result = new CompletableFuture<>();
    AtomicReference<HttpURLConnection> connection = new AtomicReference<>();
    open.add(connection);
    result.whenComplete((keys, failure) -> open.remove(connection));
    try {
      ScheduledFuture<?> deadline =
          watchdog.schedule(
              () -> giveUp(result, connection),
              config.keyFetchTimeout().toNanos(),
              TimeUnit.NANOSECONDS);
      result.whenComplete((keys, failure) -> deadline.cancel(false));
      executor.execute(() -> run(result, connection));
    } catch (RejectedExecutionException e) { // closed
      result.completeExceptionally(e);
    }
    return result;
  }

  @Override
  public void close() {
    watchdog.shutdownNow();
    executor.shutdownNow();
    for (AtomicReference<HttpURLConnection> connection : open) {
      disconnect(connection);
    }
  }

  /** The watchdog's task at a fetch's deadline: fails the fetch, then hangs up its connection. */
  private void giveUp(
      CompletableFuture<FetchedKeys> result, AtomicReference<HttpURLConnection> connection) {
    result.completeExceptionally(
        new KeyFetchException(
            KeyFetchOutcome.TIMEOUT, "not done within " + config.keyFetchTimeout() + ", given up"));
    // After completing: a fetch thread that sets its connection later sees the fetch done and
    // hangs up itself (see get()); one of the two always does, at worst both.
    disconnect(connection);
  }

  private static void disconnect(AtomicReference<HttpURLConnection> connection) {
    HttpURLConnection opened = connection.get();
    if (opened != null) {
      try {
        opened.disconnect();
      } catch (RuntimeException e) {
        // A custom connection that fails to close: nothing more to do, the fetch is given up.
      }
    }
  }

  private void run(
      CompletableFuture<FetchedKeys> result, AtomicReference<HttpURLConnection> connection) {
    try {
      result.complete(get(result, connection));
    } catch (Exception e) {
      result.completeExceptionally(e);
    } catch (Throwable t) { // an Error: still release the waiters, then let it propagate
      result.completeExceptionally(t);
      throw t;
    }
  }

  private FetchedKeys get(
      CompletableFuture<FetchedKeys> result, AtomicReference<HttpURLConnection> opened)
      throws IOException, KeyFetchException {
    Instant fetchedAt = config.clock().instant();
    int timeoutMillis = (int) Math.max(config.keyFetchTimeout().toMillis(), 1);
    HttpURLConnection connection = config.connector().open(config.jwksUri());
    opened.set(connection);
    try {
      if (result.isDone()) { // given up while the connector opened the connection
        throw new KeyFetchException(KeyFetchOutcome.TIMEOUT, "given up before sending the request");
      }
      connection.setConnectTimeout(timeoutMillis);
      connection.setReadTimeout(timeoutMillis);
      connection.setInstanceFollowRedirects(false);
      connection.setUseCaches(false);
      connection.setRequestProperty("Accept", "application/json");
      int status = connection.getResponseCode();
      if (status != 200) {
        throw new KeyFetchException(KeyFetchOutcome.HTTP_STATUS, "HTTP " + status);
      }
      if (connection.getContentLengthLong() > config.maxKeySetBytes()) {
        throw new KeyFetchException(
            KeyFetchOutcome.BODY_TOO_LARGE,
            "HTTP 200 with Content-Length over the cap of " + config.maxKeySetBytes() + " bytes");
      }
      byte[] body = readCapped(connection.getInputStream());
      Map<String, RSAPublicKey> keys = JwksParser.parse(body);
      Map<String, List<String>> headers = connection.getHeaderFields();
      return new FetchedKeys(
          keys, fetchedAt, values(headers, "Cache-Control"), values(headers, "Age"));
    } finally {
      // Closes the connection without reading the rest of a refused body.
      connection.disconnect();
    }
  }

  /** Every value of the response header {@code name}, matched case-insensitively (RFC 9110 5.1). */
  private static List<String> values(Map<String, List<String>> headers, String name) {
    List<String> values = new ArrayList<>(1);
    for (Map.Entry<String, List<String>> header : headers.entrySet()) {
      // The null key is the status line.
      if (name.equalsIgnoreCase(header.getKey()) && header.getValue() != null) {
        values.addAll(header.getValue());
      }
    }
    return values;
  }

  /** Reads at most {@code maxKeySetBytes}; more is a failed fetch. The watchdog bounds the time. */
  private byte[] readCapped(InputStream content) throws IOException, KeyFetchException {
    if (content == null) {
      return new byte[0];
    }
    int cap = config.maxKeySetBytes();
    try (InputStream in = content) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(cap, 16 * 1024));
      byte[] buffer = new byte[8 * 1024];
      int n;
      while ((n = in.read(buffer, 0, (int) Math.min(buffer.length, cap + 1L - out.size()))) > 0) {
        out.write(buffer, 0, n);
        if (out.size() > cap) {
          throw new KeyFetchException(
              KeyFetchOutcome.BODY_TOO_LARGE,
              "HTTP 200 with a body over the cap of " + cap + " bytes");
        }
      }
      return out.toByteArray();
    }
  }
}
