package dev.invokerguard.verifier;

import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The signer's key set (a JWKS, RFC 7517), fetched and cached by the freshness the response states.
 * Package-private: the verifier is the only user. docs/DESIGN.md ("The key cache policy") describes
 * the policy as a whole.
 *
 * <p>This class answers {@link #key} (a known {@code kid} at once; an unknown one after at most one
 * rate-limited refetch, and {@link Reason#UNKNOWN_KEY_ID} only when a successfully fetched set
 * lacks it) and wires the parts, one concern each: {@link KeySet} (freshness, refresh-ahead and
 * staleness instants, with their defaults), {@link FetchGate} (single flight and the rate limit),
 * {@link KeyHealthState} (key health as a pure function of outcome, set and time) and {@link
 * KeyHealthReporter} (events, counters, log lines). One fetch is a {@link KeyFetcher}'s job.
 *
 * <p>The key set in use is an immutable snapshot in an atomic reference; readers never lock. The
 * gate and the health state are guarded by one lock, held briefly and never across I/O. {@code now}
 * is the caller's instant, read once per request.
 */
final class JwksKeyCache implements KeySource {
  private final KeyCacheConfig config;
  private final KeyFetcher fetcher;
  private final KeyHealthReporter reporter;
  private final AtomicReference<KeySet> current = new AtomicReference<>();

  private final Object lock = new Object();
  // Guarded by lock.
  private final FetchGate gate;
  private KeyHealthState health;

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
    this.reporter = new KeyHealthReporter(config.jwksUri(), config.keyHealthListener());
    this.gate = new FetchGate(config.keyRefetchInterval());
    this.health = KeyHealthState.initial(config.jwksUri());
  }

  @Override
  public RSAPublicKey key(String kid, Instant now) throws CallerRejectedException {
    Objects.requireNonNull(kid, "kid");
    Objects.requireNonNull(now, "now");
    KeySet set = current.get();
    if (set != null && set.usableAt(now)) {
      if (set.refreshDueAt(now)) {
        fetchUnderWayOrStart(now); // refresh ahead (or retry while stale); never waited for
      }
      RSAPublicKey key = set.keys().get(kid);
      if (key != null) {
        return key;
      }
    }
    // No usable set, or an unknown kid (perhaps the signer rotated): join or start a fetch.
    CompletableFuture<KeySet> fetch = fetchUnderWayOrStart(now);
    // Whether a successful fetch, not only the cache, lacks the kid.
    boolean freshSetLoaded = fetch == null ? lastFetchSucceeded() : await(fetch);
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
      throw new CallerRejectedException(
          Reason.UNKNOWN_KEY_ID, "the token's kid is not in the signer's key set");
    }
    return key;
  }

  private boolean lastFetchSucceeded() {
    synchronized (lock) {
      return gate.lastSucceeded();
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
      fetch = gate.close();
    }
    fetcher.close();
    if (fetch != null) {
      // Wake waiting callers now rather than at their timeout.
      fetch.completeExceptionally(new CancellationException("key cache closed"));
    }
  }

  @Override
  public KeyStatus status(Instant now) {
    long[] fetches = reporter.fetchCounts();
    KeySet set = current.get();
    return set == null
        ? new KeyStatus(fetches, reporter.lastHealth(), 0, null)
        : new KeyStatus(fetches, reporter.lastHealth(), set.keys().size(), set.ageAt(now));
  }

  /**
   * How many fetches were started so far. Starting is synchronous (the request is sent later, on
   * the fetch thread), so tests can tell "no fetch was started" without waiting for something not
   * to happen.
   */
  int fetchesStarted() {
    synchronized (lock) {
      return gate.started();
    }
  }

  /** Whether a fetch is in progress. For tests. */
  boolean fetchInProgress() {
    synchronized (lock) {
      return gate.inProgress();
    }
  }

  /** The key set in use, or {@code null} before the first successful fetch. For tests. */
  KeySet currentKeySet() {
    return current.get();
  }

  /**
   * The fetch under way, or a newly started one if the rate limit allows, or {@code null}. Also
   * where the passage of time changes key health: every request from the set's {@code refreshAt} on
   * comes here (and every request without a usable set), and {@code refreshAt <= expiresAt}, so the
   * hit path of a healthy cache before {@code refreshAt} pays nothing for key health.
   */
  private CompletableFuture<KeySet> fetchUnderWayOrStart(Instant now) {
    CompletableFuture<KeySet> fetch;
    boolean started;
    boolean healthChanged;
    synchronized (lock) {
      if (gate.closed()) {
        return null;
      }
      healthChanged = apply(health.asTimePasses(current.get(), now));
      fetch = gate.underWay();
      started = false;
      if (fetch == null) {
        fetch = gate.tryStart(now);
        started = fetch != null;
      }
    }
    if (healthChanged) {
      reporter.emitPending();
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

  /** Takes a health step and queues its events. Guarded by lock; returns whether it queued. */
  private boolean apply(KeyHealthState.Step step) {
    health = step.next();
    reporter.queue(step.events());
    return !step.events().isEmpty();
  }

  /**
   * Ends {@code fetch} with the fetcher's outcome, once: frees the slot for the next fetch,
   * installs the new key set if there is one, reports, and wakes the waiters. A fetch that ends
   * after it was given up or the cache was closed changes nothing.
   */
  private void finish(
      CompletableFuture<KeySet> fetch, KeyFetcher.FetchedKeys fetched, Throwable failure) {
    KeySet set = fetched == null ? null : KeySet.of(fetched, config);
    Throwable cause =
        failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause()
            : failure;
    KeyFetchOutcome outcome =
        set != null ? KeyFetchOutcome.SUCCESS : KeyFetchOutcome.ofFailure(cause);
    boolean healthChanged;
    synchronized (lock) {
      if (!gate.end(fetch, set != null)) {
        return;
      }
      reporter.count(outcome);
      Instant now = config.clock().instant();
      if (set != null) {
        current.set(set);
        healthChanged = apply(health.afterSuccess(set, now));
      } else {
        healthChanged = apply(health.afterFailure(outcome, cause, current.get(), now));
      }
    }
    // Reported before the waiters wake, so the line exists by the time they are answered.
    if (healthChanged) {
      reporter.emitPending();
    }
    // Completed after the gate is free, so a woken waiter never joins a finished fetch.
    if (set != null) {
      reporter.logSuccess(set);
      fetch.complete(set);
    } else {
      reporter.logFailure(outcome, cause);
      fetch.completeExceptionally(cause);
    }
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
      // Keep the interrupt for the caller; the request is decided from the set there is.
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
