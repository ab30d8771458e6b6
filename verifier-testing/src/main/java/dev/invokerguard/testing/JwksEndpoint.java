package dev.invokerguard.testing;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Controls how a {@link TestIssuer}'s key endpoint ({@code /oauth2/v3/certs}) answers, so tests can
 * stage outages, slow responses, garbage and cache headers.
 *
 * <p>Thread-safe. Every change takes effect from the next request on; a request already being
 * answered (for example one waiting out a {@link #delay}) keeps the settings it started with.
 *
 * <p>This module is for tests and local development only and is never deployed.
 */
public final class JwksEndpoint {

  /**
   * What the next response looks like; replaced as a whole so a request sees one consistent set.
   */
  private record Settings(
      Integer status, byte[] body, Duration delay, String cacheControl, Integer ageSeconds) {}

  private final String defaultCacheControl;
  private final AtomicReference<Settings> settings;
  private final RequestCounter requests = new RequestCounter();

  JwksEndpoint(long maxAgeSeconds) {
    // The directives Google sends with its key set, so parsers meet more than max-age alone.
    this.defaultCacheControl =
        "public, max-age=" + maxAgeSeconds + ", must-revalidate, no-transform";
    this.settings =
        new AtomicReference<>(new Settings(null, null, Duration.ZERO, defaultCacheControl, null));
  }

  /**
   * Goes back to serving the current key set: clears {@link #respondWith}, {@link
   * #respondWithBytes} and {@link #delay}. The {@link #cacheControl} and {@link #age} settings are
   * kept, since they describe what a normal response looks like.
   *
   * @return this endpoint, for chaining
   */
  public JwksEndpoint respondNormally() {
    settings.updateAndGet(
        s -> new Settings(null, null, Duration.ZERO, s.cacheControl, s.ageSeconds));
    return this;
  }

  /**
   * Answers every following request with {@code status} and {@code body} (UTF-8) instead of the key
   * set, for example {@code respondWith(503, "")} for an outage or {@code respondWith(200,
   * "{\"keys\":[]}")} for an empty set.
   *
   * @param status the HTTP status code
   * @param body the response body text
   * @return this endpoint, for chaining
   */
  public JwksEndpoint respondWith(int status, String body) {
    return respondWithBytes(
        status, Objects.requireNonNull(body, "body").getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Answers every following request with {@code status} and the raw {@code body}, for example a 10
   * MB body to test a size cap.
   *
   * @param status the HTTP status code
   * @param body the response body bytes (not copied: do not change them afterwards)
   * @return this endpoint, for chaining
   */
  public JwksEndpoint respondWithBytes(int status, byte[] body) {
    if (status < 100 || status > 599) {
      throw new IllegalArgumentException("HTTP status out of range: " + status);
    }
    Objects.requireNonNull(body, "body");
    settings.updateAndGet(s -> new Settings(status, body, s.delay, s.cacheControl, s.ageSeconds));
    return this;
  }

  /**
   * Makes the server wait {@code delay} before answering each following request; a long delay
   * stands in for a hung server. Closing the issuer releases waiting requests at once (their
   * connections are dropped without an answer). {@code Duration.ZERO} answers at once again.
   *
   * @param delay how long to wait before answering
   * @return this endpoint, for chaining
   */
  public JwksEndpoint delay(Duration delay) {
    Objects.requireNonNull(delay, "delay");
    if (delay.isNegative()) {
      throw new IllegalArgumentException("negative delay: " + delay);
    }
    settings.updateAndGet(s -> new Settings(s.status, s.body, delay, s.cacheControl, s.ageSeconds));
    return this;
  }

  /**
   * Sets the {@code Cache-Control} header of following responses verbatim (RFC 9111 section 5.2),
   * or omits the header when {@code value} is null. The default is {@code "public, max-age=N,
   * must-revalidate, no-transform"} with the issuer's configured max-age, as Google sends it.
   *
   * @param value the header value, or null for no header
   * @return this endpoint, for chaining
   */
  public JwksEndpoint cacheControl(String value) {
    settings.updateAndGet(s -> new Settings(s.status, s.body, s.delay, value, s.ageSeconds));
    return this;
  }

  /**
   * Sets the {@code Age} header of following responses (RFC 9111 section 5.1), as a cache in front
   * of Google adds it, or omits it when {@code seconds} is null (the default).
   *
   * @param seconds the age in seconds, or null for no header
   * @return this endpoint, for chaining
   */
  public JwksEndpoint age(Integer seconds) {
    if (seconds != null && seconds < 0) {
      throw new IllegalArgumentException("negative Age: " + seconds);
    }
    settings.updateAndGet(s -> new Settings(s.status, s.body, s.delay, s.cacheControl, seconds));
    return this;
  }

  /**
   * Restores every setting to its default: the key set, no delay, the default {@code
   * Cache-Control}, no {@code Age}. The request count is not reset.
   *
   * @return this endpoint, for chaining
   */
  public JwksEndpoint reset() {
    settings.set(new Settings(null, null, Duration.ZERO, defaultCacheControl, null));
    return this;
  }

  /**
   * Returns how many requests have reached the endpoint so far, counted when they arrive (before
   * any {@link #delay}).
   */
  public int requestCount() {
    return requests.count();
  }

  /**
   * Waits until at least {@code count} requests have arrived, or {@code timeout} has passed. Use
   * this instead of sleeping to wait for a background fetch.
   *
   * @param count the number of requests to wait for
   * @param timeout the longest time to wait
   * @return true when the count was reached, false on timeout
   * @throws InterruptedException when the waiting thread is interrupted
   */
  public boolean awaitRequestCount(int count, Duration timeout) throws InterruptedException {
    return requests.await(count, timeout);
  }

  void handle(HttpExchange exchange, Supplier<byte[]> keySet, LoopbackServer server)
      throws IOException {
    // Read the settings before counting, so a test that waits for the count and then changes the
    // settings cannot change how this request is answered.
    Settings current = settings.get();
    requests.increment();
    if (!server.pause(current.delay)) {
      return; // closed while waiting: drop the connection, as a dead server would
    }
    var headers = exchange.getResponseHeaders();
    headers.set("Content-Type", "application/json; charset=UTF-8");
    if (current.cacheControl != null) {
      headers.set("Cache-Control", current.cacheControl);
    }
    if (current.ageSeconds != null) {
      headers.set("Age", Integer.toString(current.ageSeconds));
    }
    if (current.status != null) {
      LoopbackServer.send(exchange, current.status, current.body);
    } else if (!"GET".equals(exchange.getRequestMethod())) {
      headers.set("Allow", "GET");
      LoopbackServer.send(exchange, 405, new byte[0]);
    } else {
      LoopbackServer.send(exchange, 200, keySet.get());
    }
  }
}
