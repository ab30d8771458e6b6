package dev.invokerguard.verifier;

import java.lang.System.Logger.Level;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * The signer's key set (a JWKS, RFC 7517), fetched over HTTP and cached by the freshness the
 * response states. Package-private: the verifier is the only user.
 *
 * <p>This class is the policy (freshness, staleness, single flight, rate limit: one small state
 * machine); one fetch of the key set is a {@link KeyFetcher}'s job ({@link HttpKeyFetcher} in
 * production: the HTTP request, its deadline, the size cap and the parse).
 *
 * <h2>Freshness</h2>
 *
 * The lifetime is {@code max-age} minus {@code Age} (RFC 9111 section 4.2.3), or {@link
 * KeyCacheConfig#defaultTtl()} without one, clamped to {@code [keyRefetchInterval, 24 h]} (see
 * {@link CacheFreshness}). {@code expiresAt = fetchedAt + ttl}, where {@code fetchedAt} is read by
 * the fetcher when the request is sent (so the response's time in transit counts against its
 * lifetime, as in section 4.2.3); {@code refreshAt = expiresAt - min(refreshAhead, ttl / 2)}.
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
 *       blames the caller for the signer's new key during an outage (issue 12). A flood of made-up
 *       {@code kid}s stays as cheap either way: the rate limit decides how often the endpoint is
 *       asked, not the answer.
 * </ul>
 *
 * Without a usable set, the request starts or joins a fetch and waits at most {@code
 * keyFetchTimeout}; if there is still no usable set, it is {@link Reason#KEYS_UNAVAILABLE} (503,
 * not a 401 that would blame the caller).
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
 *   <li>{@link #close()} closes the fetcher, which stops its threads.
 * </ul>
 *
 * <h2>Failures</h2>
 *
 * A failed fetch (network error, timeout, status other than 200, oversized body, invalid JSON, no
 * usable key, ...) changes nothing: the last good set keeps being used up to {@code
 * maxKeyStaleness} past its expiry, and the next fetch is tried at the next request after the rate
 * limit allows it. Every fetch is logged in one {@code DEBUG} line through {@link System.Logger}
 * (success: URL, status, key count and lifetime; failure: URL and the status, the refusal, or the
 * exception class), never with the body or key material, and counted by {@link KeyFetchOutcome}.
 *
 * <h2>Key health</h2>
 *
 * The state of the key set ({@code NONE} before anything happened, {@code HEALTHY}, {@code
 * FETCH_FAILED}, {@code STALE_IN_USE}, {@code UNUSABLE}) changes at two kinds of moments, and each
 * change is reported once to the {@link KeyHealthListener} as a {@link KeyHealthEvent}:
 *
 * <ul>
 *   <li>when a fetch ends (in {@link #finish}): a success after trouble is {@link
 *       KeyHealth#RECOVERED} (the very first, without trouble, {@link KeyHealth#LOADED}); the first
 *       failure while healthy is {@link KeyHealth#FETCH_FAILED} (followed at once by {@link
 *       KeyHealth#STALE_IN_USE} if the set in use is already past its expiry); a failure that
 *       leaves no usable set is {@link KeyHealth#UNUSABLE}. Later failures of the same run change
 *       nothing and report nothing.
 *   <li>when time passes while fetches fail: the set in use reaches its expiry ({@link
 *       KeyHealth#STALE_IN_USE}) or its expiry plus {@code maxKeyStaleness} ({@link
 *       KeyHealth#UNUSABLE}). These are checked in {@link #fetchUnderWayOrStart}, which every
 *       request calls from the set's {@code refreshAt} on (and every request without a usable set).
 *       Since {@code refreshAt <= expiresAt}, every request that could see one of these two
 *       instants already goes through that method, under the lock it takes anyway; a request before
 *       {@code refreshAt} (the hit path of a healthy cache) pays nothing at all for key health.
 *       Without requests nothing is reported: no request is answered from stale keys or refused.
 * </ul>
 *
 * Events are queued under the lock, in the order of the changes, and handed to the listener outside
 * it, one at a time ({@link #emitPending}), so a slow listener never holds up a request that does
 * not itself report.
 *
 * <h2>Threads and time</h2>
 *
 * The key set is an immutable snapshot in an atomic reference; readers never lock. The fetch state
 * (the future of the fetch under way, the start time of the last fetch) is guarded by one lock held
 * only briefly, never across I/O. {@code now} is the caller's instant, read once per request, so
 * every decision for one request sees one time.
 */
final class JwksKeyCache implements KeySource {
  /** Upper bound of a key set's lifetime, whatever {@code max-age} says. */
  static final Duration MAX_TTL = Duration.ofHours(24);

  private static final System.Logger LOG = System.getLogger(JwksKeyCache.class.getName());

  private static final KeyFetchOutcome[] OUTCOMES = KeyFetchOutcome.values();

  /** The key set's state, as the class comment describes it. */
  private enum State {
    NONE,
    HEALTHY,
    FETCH_FAILED,
    STALE_IN_USE,
    UNUSABLE
  }

  private final KeyCacheConfig config;
  private final KeyFetcher fetcher;
  private final AtomicReference<KeySet> current = new AtomicReference<>();
  private final LongAdder[] fetchOutcomes = new LongAdder[OUTCOMES.length];
  private volatile KeyHealth lastHealth; // for stats only

  /** Held while handing events to the listener, so that they arrive one at a time, in order. */
  private final Object emitLock = new Object();

  private final Object lock = new Object();
  // Guarded by lock.
  private CompletableFuture<KeySet> inFlight;
  private Instant lastFetchStart;
  private boolean lastFetchSucceeded;
  private boolean closed;
  private int fetchesStarted;
  private State state = State.NONE;
  private int failedFetches; // since the state was last healthy
  private Instant firstFailureAt; // of the current run of failures
  private final ArrayDeque<KeyHealthEvent> pendingEvents = new ArrayDeque<>();

  /**
   * A cache that has fetched nothing yet, fetching over HTTP; the first {@link #key} or {@link
   * #prefetch()} fetches. The settings were checked when {@code config} was built.
   */
  JwksKeyCache(KeyCacheConfig config) {
    this(config, new HttpKeyFetcher(config));
  }

  /** As above with another fetcher, for tests of the policy; this cache closes it. */
  JwksKeyCache(KeyCacheConfig config, KeyFetcher fetcher) {
    this.config = Objects.requireNonNull(config, "config");
    this.fetcher = Objects.requireNonNull(fetcher, "fetcher");
    for (int i = 0; i < fetchOutcomes.length; i++) {
      fetchOutcomes[i] = new LongAdder();
    }
  }

  @Override
  public RSAPublicKey key(String kid, Instant now) throws CallerRejectedException {
    Objects.requireNonNull(kid, "kid");
    Objects.requireNonNull(now, "now");
    KeySet set = current.get();
    boolean freshSetLoaded; // whether a successful fetch, not only the cache, lacks the kid
    if (set != null && set.usableAt(now)) {
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
    if (set == null || !set.usableAt(now)) {
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
      return set != null && set.usableAt(now)
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
    synchronized (lock) {
      closed = true;
      fetch = inFlight;
    }
    fetcher.close();
    if (fetch != null) {
      // Wake waiting callers now rather than at their timeout.
      fetch.completeExceptionally(new CancellationException("key cache closed"));
    }
  }

  /**
   * How many fetches were started so far. Starting is synchronous (the request is sent later, on
   * the fetch thread), so tests can tell "no fetch was started" without waiting for something not
   * to happen.
   */
  int fetchesStarted() {
    synchronized (lock) {
      return fetchesStarted;
    }
  }

  @Override
  public KeyStatus status(Instant now) {
    long[] fetches = new long[OUTCOMES.length];
    for (int i = 0; i < fetches.length; i++) {
      fetches[i] = fetchOutcomes[i].sum();
    }
    KeySet set = current.get();
    return set == null
        ? new KeyStatus(fetches, lastHealth, 0, null)
        : new KeyStatus(
            fetches, lastHealth, set.keys().size(), Duration.between(set.fetchedAt(), now));
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

  /** The fetch under way, or a newly started one if the rate limit allows, or {@code null}. */
  private CompletableFuture<KeySet> fetchUnderWayOrStart(Instant now) {
    CompletableFuture<KeySet> fetch;
    boolean started = false;
    boolean healthChanged;
    synchronized (lock) {
      if (closed) {
        return null;
      }
      healthChanged = healthAsTimePasses(now);
      if (inFlight != null) {
        fetch = inFlight;
      } else if (!rateLimitAllows(now)) {
        fetch = null;
      } else {
        lastFetchStart = now;
        fetchesStarted++;
        fetch = new CompletableFuture<>();
        inFlight = fetch;
        started = true;
      }
    }
    if (healthChanged) {
      emitPending();
    }
    if (started) {
      CompletableFuture<KeySet> mine = fetch;
      try {
        fetcher.fetch().whenComplete((fetched, failure) -> finish(mine, fetched, failure));
      } catch (RuntimeException e) { // a fetcher that cannot even start counts as a failed fetch
        finish(mine, null, e);
      }
    }
    return fetch;
  }

  /**
   * The changes that the passage of time alone causes while fetches fail: the set in use reaches
   * its expiry, or its usable bound. Guarded by lock.
   *
   * @return whether an event was queued
   */
  private boolean healthAsTimePasses(Instant now) {
    if (state != State.FETCH_FAILED && state != State.STALE_IN_USE) {
      return false; // healthy: a due refresh is under way or about to start; nothing to report
    }
    KeySet set = current.get();
    if (!set.usableAt(now)) {
      state = State.UNUSABLE;
      queue(
          KeyHealth.UNUSABLE,
          now,
          set,
          null,
          null,
          "the keys in use passed their expiry plus the staleness bound",
          null);
      return true;
    }
    if (state == State.FETCH_FAILED && !now.isBefore(set.expiresAt())) {
      state = State.STALE_IN_USE;
      queue(KeyHealth.STALE_IN_USE, now, set, null, null, null, null);
      return true;
    }
    return false;
  }

  /** After a successful fetch installed {@code set}. Guarded by lock; returns whether it queued. */
  private boolean healthAfterSuccess(KeySet set, Instant now) {
    State before = state;
    if (before == State.NONE) {
      queue(KeyHealth.LOADED, now, set, null, null, null, null);
    } else if (before != State.HEALTHY) { // (HEALTHY: a routine refresh, nothing to report)
      queue(KeyHealth.RECOVERED, now, set, null, null, null, Duration.between(firstFailureAt, now));
    }
    state = State.HEALTHY;
    failedFetches = 0;
    firstFailureAt = null;
    return before != State.HEALTHY;
  }

  /** After a failed fetch. Guarded by lock; returns whether it queued an event. */
  private boolean healthAfterFailure(KeyFetchOutcome outcome, Throwable cause, Instant now) {
    failedFetches++;
    if (state == State.NONE || state == State.HEALTHY) {
      firstFailureAt = now;
    }
    String detail = cause instanceof KeyFetchException ? cause.getMessage() : null;
    Throwable thrown = cause instanceof KeyFetchException ? cause.getCause() : cause;
    String exception = thrown == null ? null : thrown.getClass().getName();
    KeySet set = current.get();
    if (set == null || !set.usableAt(now)) {
      if (state == State.UNUSABLE) {
        return false;
      }
      state = State.UNUSABLE;
      queue(KeyHealth.UNUSABLE, now, set, outcome, exception, detail, null);
      return true;
    }
    boolean queued = false;
    if (state == State.HEALTHY) {
      state = State.FETCH_FAILED;
      queue(KeyHealth.FETCH_FAILED, now, set, outcome, exception, detail, null);
      queued = true;
    }
    if (state == State.FETCH_FAILED && !now.isBefore(set.expiresAt())) {
      state = State.STALE_IN_USE;
      queue(KeyHealth.STALE_IN_USE, now, set, outcome, exception, detail, null);
      queued = true;
    }
    return queued;
  }

  /** Queues one event about {@code set} (the set in use, possibly none). Guarded by lock. */
  private void queue(
      KeyHealth health,
      Instant now,
      KeySet set,
      KeyFetchOutcome outcome,
      String exception,
      String detail,
      Duration outage) {
    Duration usableFor =
        set == null || health == KeyHealth.UNUSABLE || !set.usableAt(now)
            ? Duration.ZERO
            : Duration.between(now, set.usableUntil());
    pendingEvents.add(
        new KeyHealthEvent(
            health,
            now,
            config.jwksUri(),
            set == null ? 0 : set.keys().size(),
            set == null ? Optional.empty() : Optional.of(Duration.between(set.fetchedAt(), now)),
            usableFor,
            Optional.ofNullable(outcome),
            Optional.ofNullable(exception),
            Optional.ofNullable(detail),
            failedFetches,
            Optional.ofNullable(outage)));
    lastHealth = health;
  }

  /**
   * Hands the queued events to the listener, outside the state lock, one at a time and in order. A
   * listener that throws is ignored: reporting never changes a decision.
   */
  private void emitPending() {
    synchronized (emitLock) {
      while (true) {
        KeyHealthEvent event;
        synchronized (lock) {
          event = pendingEvents.poll();
        }
        if (event == null) {
          return;
        }
        try {
          config.keyHealthListener().keyHealthChanged(event);
        } catch (RuntimeException e) {
          // Nothing to do: the state change happened whether or not it was reported.
        }
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

  /**
   * Ends {@code fetch} with the fetcher's outcome, once: frees the slot for the next fetch,
   * installs the new key set if there is one, wakes the waiters and logs the outcome. A fetch that
   * ends after the cache was closed changes nothing.
   */
  private void finish(
      CompletableFuture<KeySet> fetch, KeyFetcher.FetchedKeys fetched, Throwable failure) {
    KeySet set = fetched == null ? null : keySet(fetched);
    Throwable cause =
        failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause()
            : failure;
    KeyFetchOutcome outcome =
        set != null ? KeyFetchOutcome.SUCCESS : KeyFetchOutcome.ofFailure(cause);
    boolean healthChanged;
    synchronized (lock) {
      if (inFlight != fetch || fetch.isDone()) {
        return;
      }
      inFlight = null;
      lastFetchSucceeded = set != null;
      fetchOutcomes[outcome.ordinal()].increment();
      Instant now = config.clock().instant();
      if (set != null) {
        current.set(set);
        healthChanged = healthAfterSuccess(set, now);
      } else {
        healthChanged = healthAfterFailure(outcome, cause, now);
      }
    }
    // Reported before the waiters wake, so the line exists by the time they are answered.
    if (healthChanged) {
      emitPending();
    }
    // Completed after inFlight is cleared, so a woken waiter never joins a finished fetch.
    if (set != null) {
      LOG.log(
          Level.DEBUG,
          "JWKS fetched from {0}: HTTP 200, {1} keys, fresh for {2}",
          config.jwksUri(),
          set.keys().size(),
          set.ttl());
      fetch.complete(set);
    } else {
      // A KeyFetchException's message is written by this package; other messages may quote
      // anything, so only their class is logged.
      LOG.log(
          Level.DEBUG,
          "JWKS fetch from {0} failed: {1} ({2})",
          config.jwksUri(),
          outcome,
          cause instanceof KeyFetchException ? cause.getMessage() : cause.getClass().getName());
      fetch.completeExceptionally(cause);
    }
  }

  /** The key set a fetch gave, fresh for as long as its response says (see the class comment). */
  private KeySet keySet(KeyFetcher.FetchedKeys fetched) {
    Duration ttl =
        CacheFreshness.ttl(
            fetched.cacheControl(),
            fetched.age(),
            config.defaultTtl(),
            config.keyRefetchInterval(),
            MAX_TTL);
    return KeySet.of(
        fetched.keys(), fetched.fetchedAt(), ttl, config.refreshAhead(), config.maxKeyStaleness());
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
   * One fetched key set: immutable, swapped whole. Its instants are computed once, so that the
   * request path only compares.
   *
   * @param keys usable keys by {@code kid}, never empty
   * @param fetchedAt when the request was sent
   * @param ttl the freshness lifetime
   * @param expiresAt {@code fetchedAt + ttl}
   * @param refreshAt when a background refresh starts
   * @param usableUntil {@code expiresAt + maxKeyStaleness}: from then on the set is not used
   */
  record KeySet(
      Map<String, RSAPublicKey> keys,
      Instant fetchedAt,
      Duration ttl,
      Instant expiresAt,
      Instant refreshAt,
      Instant usableUntil) {
    static KeySet of(
        Map<String, RSAPublicKey> keys,
        Instant fetchedAt,
        Duration ttl,
        Duration refreshAhead,
        Duration maxStaleness) {
      Instant expiresAt = fetchedAt.plus(ttl);
      // Refreshing more than half a lifetime early would fetch more often than the signer asks.
      Duration half = ttl.dividedBy(2);
      Duration ahead = refreshAhead.compareTo(half) < 0 ? refreshAhead : half;
      return new KeySet(
          Map.copyOf(keys),
          fetchedAt,
          ttl,
          expiresAt,
          expiresAt.minus(ahead),
          expiresAt.plus(maxStaleness));
    }

    boolean usableAt(Instant now) {
      return now.isBefore(usableUntil);
    }
  }
}
