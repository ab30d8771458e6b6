package dev.invokerguard.verifier;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.HttpURLConnection;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The signer's key set (a JWKS, RFC 7517), fetched over HTTP and cached by the freshness the
 * response states. Package-private: the verifier is the only user.
 *
 * <h2>Fetching</h2>
 *
 * One {@code GET} of {@link KeyCacheConfig#jwksUri()} on a connection opened by the configured
 * {@link KeyEndpointConnector} (the JDK's {@link HttpURLConnection} by default), with no
 * retries, no redirects and no caches. A connector that throws, even unchecked, is a failed fetch.
 * Only {@code 200} is a success. The body is capped at {@link KeyCacheConfig#maxKeySetBytes()}: a
 * larger {@code Content-Length} is refused before reading, and reading stops as soon as the cap is
 * passed, so no more than the cap is ever buffered.
 *
 * <p>The whole fetch (connect, TLS handshake, status line, headers, body) has a hard deadline of
 * {@link KeyCacheConfig#keyFetchTimeout()} from its start. Connect and read timeouts of the same
 * length are set too, but a read timeout bounds one read only: a server that sends one header byte
 * per second never trips it. So a watchdog ({@value #WATCHDOG_THREAD_NAME}) gives the fetch up at
 * its deadline: the fetch fails, waiting callers wake, the slot for the one fetch in progress is
 * free again, and the connection is disconnected. A given-up fetch's thread may stay blocked if
 * the connection does not let go on disconnect (a TLS handshake in progress, a custom connector);
 * its outcome is then discarded, and it never stops the next fetch from starting. The body is
 * parsed by {@link JwksParser}
 * (strict JSON; RSA keys for RS256 signatures only; a bad set is refused whole). Keys are built
 * once per fetch, never per request.
 *
 * <h2>Freshness</h2>
 *
 * The lifetime is {@code max-age} minus {@code Age} (RFC 9111 section 4.2.3), or {@link
 * KeyCacheConfig#defaultTtl()} without one, clamped to {@code [keyRefetchInterval, 24 h]} (see
 * {@link CacheFreshness}). {@code expiresAt = fetchedAt + ttl}, where {@code fetchedAt} is read
 * from {@link KeyCacheConfig#clock()} when the request is sent (so the response's time in transit
 * counts against its lifetime, as in section 4.2.3); {@code refreshAt = expiresAt -
 * min(refreshAhead, ttl / 2)}.
 *
 * <h2>Answering {@link #key(String, Instant)}</h2>
 *
 * A key set is usable while {@code now < expiresAt + maxKeyStaleness}. With a usable set:
 *
 * <ul>
 *   <li>from {@code refreshAt} on, a background fetch is started (rate limit permitting) and the
 *       request is answered from the current set at once: once keys are loaded, no request waits
 *       for a routine refresh;
 *   <li>a known {@code kid} is answered at once;
 *   <li>an unknown {@code kid} may mean the signer rotated: if a fetch is under way, or the rate
 *       limit lets one start, the request waits for it (at most {@code keyFetchTimeout}) and looks
 *       once more; otherwise it is answered at once from the outcome of the last fetch.
 *   <li>an unknown {@code kid} is {@link Reason#UNKNOWN_KEY_ID} (401: the token is judged) only
 *       when a key set fetched <em>successfully</em> lacks it: the fetch it waited for succeeded,
 *       or the rate limit holds back a new one and the last fetch succeeded. When that fetch
 *       failed, was given up, or is still running after the wait, no fresh set could be had, so the
 *       token was not judged: {@link Reason#KEYS_UNAVAILABLE} (503, to be retried), not a 401 that
 *       blames the caller for the signer's new key during an outage (issue 12). A flood of
 *       made-up {@code kid}s stays as cheap either way: the rate limit decides how often the
 *       endpoint is asked, not the answer.
 * </ul>
 *
 * Without a usable set, the request starts or joins a fetch and waits at most {@code
 * keyFetchTimeout}; if there is still no usable set, it is {@link Reason#KEYS_UNAVAILABLE} (503, not
 * a 401 that would blame the caller).
 *
 * <h2>Limits on fetching</h2>
 *
 * <ul>
 *   <li>Single flight: at most one fetch is in progress; every caller that needs one waits on the
 *       same future and never starts its own. A new one is not started while it runs, and it runs
 *       at most {@code keyFetchTimeout} (then it is given up), so a hanging server can neither make
 *       fetches pile up nor stop fetching for good.
 *   <li>Rate limit: at most one fetch <em>starts</em> per {@link
 *       KeyCacheConfig#keyRefetchInterval()}, whatever triggers it (unknown {@code kid},
 *       refresh-ahead, retry after a failure, {@link #prefetch()}); the very first fetch is always
 *       allowed. A flood of tokens with made-up {@code kid}s therefore costs the signer at most one
 *       request per interval.
 *   <li>Fetches run on daemon threads owned by this cache ({@value #THREAD_NAME}), one at a time
 *       except while a given-up fetch is still blocked; they and the watchdog are stopped by
 *       {@link #close()}.
 * </ul>
 *
 * <h2>Failures</h2>
 *
 * A failed fetch (network error, timeout, status other than 200, oversized body, invalid JSON, no
 * usable key, ...) changes nothing: the last good set keeps being used up to {@code maxKeyStaleness}
 * past its expiry, and the next fetch is tried at the next request after the rate limit allows it.
 * Every fetch is logged in one line through {@link System.Logger} (success: URL, status, key count
 * and lifetime; failure: URL and the status, the refusal, or the exception class), never with the
 * body or key material.
 *
 * <h2>Threads and time</h2>
 *
 * The key set is an immutable snapshot in an atomic reference; readers never lock. The fetch state
 * (the future of the fetch under way, the start time of the last fetch) is guarded by one lock
 * held only briefly, never across I/O. {@code now} is the caller's instant, read once per request,
 * so every decision for one request sees one time.
 */
final class JwksKeyCache implements KeySource {
  static final String THREAD_NAME = "invoker-guard-jwks";
  static final String WATCHDOG_THREAD_NAME = "invoker-guard-jwks-watchdog";

  /** Upper bound of a key set's lifetime, whatever {@code max-age} says. */
  static final Duration MAX_TTL = Duration.ofHours(24);

  private static final System.Logger LOG = System.getLogger(JwksKeyCache.class.getName());

  private final KeyCacheConfig config;
  private final ExecutorService executor;
  private final ScheduledThreadPoolExecutor watchdog;
  private final AtomicReference<KeySet> current = new AtomicReference<>();

  private final Object lock = new Object();
  // Guarded by lock.
  private CompletableFuture<KeySet> inFlight;
  private AtomicReference<HttpURLConnection> inFlightConnection;
  private Instant lastFetchStart;
  private boolean lastFetchSucceeded;
  private boolean closed;
  private int fetchesStarted;

  /**
   * A cache that has fetched nothing yet; the first {@link #key} or {@link #prefetch()} fetches.
   * The settings were checked when {@code config} was built.
   */
  JwksKeyCache(KeyCacheConfig config) {
    this.config = Objects.requireNonNull(config, "config");
    // A cached pool, not one thread: a given-up fetch whose connection does not let go must not
    // queue the next fetch behind it. Fetches start at most once per interval, and each one is
    // given up at its deadline, so the pool stays at one thread unless connections hang on.
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
  public RSAPublicKey key(String kid, Instant now) throws CallerRejectedException {
    Objects.requireNonNull(kid, "kid");
    Objects.requireNonNull(now, "now");
    KeySet set = current.get();
    boolean freshSetLoaded; // whether a successful fetch, not only the cache, lacks the kid
    if (set != null && set.usableAt(now, config.maxKeyStaleness())) {
      if (!now.isBefore(set.refreshAt())) {
        fetchUnderWayOrStart(now); // refresh ahead (or retry while stale); never waited for
      }
      RSAPublicKey key = set.keys().get(kid);
      if (key != null) {
        return key;
      }
      CompletableFuture<KeySet> fetch = fetchUnderWayOrStart(now);
      freshSetLoaded = fetch == null ? lastFetchSucceeded() : await(fetch);
    } else {
      CompletableFuture<KeySet> fetch = fetchUnderWayOrStart(now);
      freshSetLoaded = fetch == null ? lastFetchSucceeded() : await(fetch);
    }
    // One more look after the fetch (or after waiting as long as allowed); no second fetch.
    set = current.get();
    if (set == null || !set.usableAt(now, config.maxKeyStaleness())) {
      throw new CallerRejectedException(
          Reason.KEYS_UNAVAILABLE, "no usable signing key set could be loaded");
    }
    RSAPublicKey key = set.keys().get(kid);
    if (key == null) {
      if (!freshSetLoaded) {
        throw new CallerRejectedException(
            Reason.KEYS_UNAVAILABLE,
            "the token's kid is not in the cached key set and no fresh key set could be loaded");
      }
      throw unknownKeyId();
    }
    return key;
  }

  private boolean lastFetchSucceeded() {
    synchronized (lock) {
      return lastFetchSucceeded;
    }
  }

  @Override
  public CompletableFuture<Void> prefetch() {
    Instant now = config.clock().instant();
    CompletableFuture<KeySet> fetch = fetchUnderWayOrStart(now);
    if (fetch == null) {
      KeySet set = current.get();
      return set != null && set.usableAt(now, config.maxKeyStaleness())
          ? CompletableFuture.completedFuture(null)
          : CompletableFuture.failedFuture(
              new CallerRejectedException(
                  Reason.KEYS_UNAVAILABLE, "no key set loaded and no fetch may start yet"));
    }
    // A dependent future: completing it from outside cannot complete the fetch's own future.
    return fetch.thenApply(ignored -> null);
  }

  @Override
  public void close() {
    CompletableFuture<KeySet> fetch;
    AtomicReference<HttpURLConnection> connection;
    synchronized (lock) {
      closed = true;
      fetch = inFlight;
      connection = inFlightConnection;
    }
    watchdog.shutdownNow();
    executor.shutdownNow();
    if (fetch != null) {
      // Wake waiting callers now rather than at their timeout.
      fetch.completeExceptionally(new CancellationException("key cache closed"));
      disconnect(connection);
    }
  }

  /**
   * How many fetches were started so far. Starting is synchronous (the request is sent later, on
   * the fetch thread), so tests can tell "no fetch was started" without waiting for something
   * not to happen.
   */
  int fetchesStarted() {
    synchronized (lock) {
      return fetchesStarted;
    }
  }

  /** Whether a fetch is in progress. For tests. */
  boolean fetchInProgress() {
    synchronized (lock) {
      return inFlight != null;
    }
  }

  /** The key set in use, or {@code null} before the first successful fetch. For tests. */
  KeySet currentKeySet() {
    return current.get();
  }

  /**
   * The fetch under way, or a newly started one if the rate limit allows, or {@code null}.
   */
  private CompletableFuture<KeySet> fetchUnderWayOrStart(Instant now) {
    CompletableFuture<KeySet> fetch;
    AtomicReference<HttpURLConnection> connection = new AtomicReference<>();
    synchronized (lock) {
      if (closed) {
        return null;
      }
      if (inFlight != null) {
        return inFlight;
      }
      if (!rateLimitAllows(now)) {
        return null;
      }
      lastFetchStart = now;
      fetchesStarted++;
      fetch = new CompletableFuture<>();
      inFlight = fetch;
      inFlightConnection = connection;
    }
    try {
      ScheduledFuture<?> deadline =
          watchdog.schedule(
              () -> giveUp(fetch, connection),
              config.keyFetchTimeout().toNanos(),
              TimeUnit.NANOSECONDS);
      fetch.whenComplete((set, failure) -> deadline.cancel(false));
      executor.execute(() -> runFetch(fetch, connection));
    } catch (RejectedExecutionException e) { // closed in the meantime
      finish(fetch, null, e);
    }
    return fetch;
  }

  /**
   * The watchdog's task at a fetch's deadline: fails the fetch (if it has not ended), which frees
   * the slot for the next one, then hangs up its connection.
   */
  private void giveUp(
      CompletableFuture<KeySet> fetch, AtomicReference<HttpURLConnection> connection) {
    if (finish(fetch, null, new KeyFetchException("not done within the fetch timeout"))) {
      logFailure("not done within " + config.keyFetchTimeout() + ", given up");
    }
    // After finish: a fetch thread that sets its connection later sees the fetch done and hangs
    // up itself (see fetch()); one of the two always does, at worst both.
    disconnect(connection);
  }

  private static void disconnect(AtomicReference<HttpURLConnection> connection) {
    HttpURLConnection open = connection == null ? null : connection.get();
    if (open != null) {
      try {
        open.disconnect();
      } catch (RuntimeException e) {
        // A custom connection that fails to close: nothing more to do, the fetch is given up.
      }
    }
  }

  // Guarded by lock.
  private boolean rateLimitAllows(Instant now) {
    if (lastFetchStart == null) {
      return true; // the very first fetch
    }
    Duration interval = config.keyRefetchInterval();
    if (!now.isBefore(lastFetchStart.plus(interval))) {
      return true;
    }
    // The clock stepped back by more than an interval (e.g. a correction): waiting for it to
    // catch up could lock fetching out for as long as the step.
    return now.isBefore(lastFetchStart.minus(interval));
  }

  private void runFetch(
      CompletableFuture<KeySet> fetch, AtomicReference<HttpURLConnection> connection) {
    KeySet fetched;
    try {
      fetched = fetch(fetch, connection);
    } catch (KeyFetchException e) {
      if (finish(fetch, null, e)) {
        logFailure(e.getMessage());
      }
      return;
    } catch (Exception e) {
      if (finish(fetch, null, e)) {
        logFailure(e.getClass().getName()); // messages may quote anything; the class won't
      }
      return;
    } catch (Throwable t) { // an Error: still release the waiters, then let it propagate
      finish(fetch, null, t);
      throw t;
    }
    if (finish(fetch, fetched, null)) {
      LOG.log(
          Level.INFO,
          "JWKS fetched from {0}: HTTP 200, {1} keys, fresh for {2}",
          config.jwksUri(),
          fetched.keys().size(),
          fetched.ttl());
    }
    // Otherwise the fetch was given up (or the cache closed) before it ended: a late key set is
    // discarded, since a newer fetch may already have replaced the set, and it was logged then.
  }

  /**
   * Ends {@code fetch} with its outcome, once: the first call frees the slot for the next fetch,
   * installs {@code fetched} if there is one, and wakes the waiters; later calls (a fetch that
   * ended after the watchdog gave it up) change nothing.
   *
   * @return whether this call ended the fetch
   */
  private boolean finish(CompletableFuture<KeySet> fetch, KeySet fetched, Throwable failure) {
    synchronized (lock) {
      if (inFlight != fetch || fetch.isDone()) {
        return false;
      }
      inFlight = null;
      inFlightConnection = null;
      lastFetchSucceeded = fetched != null;
      if (fetched != null) {
        current.set(fetched);
      }
    }
    // Completed after inFlight is cleared, so a woken waiter never joins a finished fetch.
    if (fetched != null) {
      fetch.complete(fetched);
    } else {
      fetch.completeExceptionally(failure);
    }
    return true;
  }

  private void logFailure(String what) {
    KeySet set = current.get();
    LOG.log(
        Level.WARNING,
        "JWKS fetch from {0} failed: {1}; {2}",
        config.jwksUri(),
        what,
        set == null
            ? "no key set loaded"
            : "keeping " + set.keys().size() + " keys, usable until "
                + set.expiresAt().plus(config.maxKeyStaleness()));
  }

  private KeySet fetch(
      CompletableFuture<KeySet> fetch, AtomicReference<HttpURLConnection> opened)
      throws IOException, KeyFetchException {
    Instant fetchedAt = config.clock().instant();
    int timeoutMillis = (int) Math.max(config.keyFetchTimeout().toMillis(), 1);
    HttpURLConnection connection = config.connector().open(config.jwksUri());
    opened.set(connection);
    try {
      if (fetch.isDone()) { // given up while the connector opened the connection
        throw new KeyFetchException("given up before sending the request");
      }
      connection.setConnectTimeout(timeoutMillis);
      connection.setReadTimeout(timeoutMillis);
      connection.setInstanceFollowRedirects(false);
      connection.setUseCaches(false);
      connection.setRequestProperty("Accept", "application/json");
      int status = connection.getResponseCode();
      if (status != 200) {
        throw new KeyFetchException("HTTP " + status);
      }
      if (connection.getContentLengthLong() > config.maxKeySetBytes()) {
        throw new KeyFetchException(
            "HTTP 200 with Content-Length over the cap of " + config.maxKeySetBytes() + " bytes");
      }
      byte[] body = readCapped(connection.getInputStream());
      Map<String, RSAPublicKey> keys = JwksParser.parse(body);
      Map<String, List<String>> headers = connection.getHeaderFields();
      Duration ttl =
          CacheFreshness.ttl(
              values(headers, "Cache-Control"),
              values(headers, "Age"),
              config.defaultTtl(),
              config.keyRefetchInterval(),
              MAX_TTL);
      return KeySet.of(keys, fetchedAt, ttl, config.refreshAhead());
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
          throw new KeyFetchException("HTTP 200 with a body over the cap of " + cap + " bytes");
        }
      }
      return out.toByteArray();
    }
  }

  private static CallerRejectedException unknownKeyId() {
    return new CallerRejectedException(
        Reason.UNKNOWN_KEY_ID, "the token's kid is not in the signer's key set");
  }

  /**
   * Waits at most {@code keyFetchTimeout}; the key set is read from {@link #current} afterwards.
   *
   * @return whether the fetch succeeded within the wait
   */
  private boolean await(CompletableFuture<KeySet> fetch) {
    try {
      fetch.get(config.keyFetchTimeout().toNanos(), TimeUnit.NANOSECONDS);
      return true;
    } catch (ExecutionException | TimeoutException | CancellationException e) {
      // The fetch failed or is slow: the caller decides from whatever key set there is.
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * One fetched key set: immutable, swapped whole.
   *
   * @param keys usable keys by {@code kid}, never empty
   * @param fetchedAt when the request was sent
   * @param ttl the freshness lifetime
   * @param expiresAt {@code fetchedAt + ttl}
   * @param refreshAt when a background refresh starts
   */
  record KeySet(
      Map<String, RSAPublicKey> keys,
      Instant fetchedAt,
      Duration ttl,
      Instant expiresAt,
      Instant refreshAt) {
    static KeySet of(
        Map<String, RSAPublicKey> keys, Instant fetchedAt, Duration ttl, Duration refreshAhead) {
      Instant expiresAt = fetchedAt.plus(ttl);
      // Refreshing more than half a lifetime early would fetch more often than the signer asks.
      Duration half = ttl.dividedBy(2);
      Duration ahead = refreshAhead.compareTo(half) < 0 ? refreshAhead : half;
      return new KeySet(Map.copyOf(keys), fetchedAt, ttl, expiresAt, expiresAt.minus(ahead));
    }

    boolean usableAt(Instant now, Duration maxStaleness) {
      return now.isBefore(expiresAt.plus(maxStaleness));
    }
  }
}
