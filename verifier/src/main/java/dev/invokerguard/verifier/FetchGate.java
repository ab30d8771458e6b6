package dev.invokerguard.verifier;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/**
 * Single flight and the refetch rate limit: the one fetch of the key set under way, and whether a
 * new one may start.
 *
 * <ul>
 *   <li>Single flight: at most one fetch is in progress; every caller that needs one joins it. A
 *       new one does not start while it runs (the fetcher gives it up at its deadline).
 *   <li>Rate limit: at most one fetch <em>starts</em> per {@code keyRefetchInterval}, whatever
 *       triggers it; the very first is always allowed.
 * </ul>
 *
 * Not thread-safe: {@link JwksKeyCache} calls it under its one lock, which also guards the key
 * health state, so that a fetch's end and the health change it causes are one step.
 */
final class FetchGate {
  private final Duration interval;
  private CompletableFuture<KeySet> inFlight;
  private Instant lastStart;
  private boolean lastSucceeded;
  private int started;
  private boolean closed;

  FetchGate(Duration interval) {
    this.interval = interval;
  }

  /** The fetch under way, or {@code null}: callers that need a fetch join this one. */
  CompletableFuture<KeySet> underWay() {
    return inFlight;
  }

  /**
   * A new fetch, when none is under way, the gate is open and the rate limit allows one to start at
   * {@code now}; otherwise {@code null}.
   */
  CompletableFuture<KeySet> tryStart(Instant now) {
    if (closed || inFlight != null || !rateLimitAllows(lastStart, now, interval)) {
      return null;
    }
    lastStart = now;
    started++;
    inFlight = new CompletableFuture<>();
    return inFlight;
  }

  /**
   * Ends {@code fetch} if it is the one under way and not yet completed: frees the slot for the
   * next fetch and records its outcome.
   *
   * @return false when {@code fetch} was already ended (given up, or the gate closed): its outcome
   *     changes nothing
   */
  boolean end(CompletableFuture<KeySet> fetch, boolean succeeded) {
    if (inFlight != fetch || fetch.isDone()) {
      return false;
    }
    inFlight = null;
    lastSucceeded = succeeded;
    return true;
  }

  /** No fetch starts any more; returns the one under way (to wake its waiters), or null. */
  CompletableFuture<KeySet> close() {
    closed = true;
    return inFlight;
  }

  boolean closed() {
    return closed;
  }

  /** Whether the last fetch that ended succeeded (false before any ended). */
  boolean lastSucceeded() {
    return lastSucceeded;
  }

  boolean inProgress() {
    return inFlight != null;
  }

  /** How many fetches were started. */
  int started() {
    return started;
  }

  /**
   * Whether a fetch may start at {@code now} when the last one started at {@code lastStart} ({@code
   * null}: none yet).
   */
  static boolean rateLimitAllows(Instant lastStart, Instant now, Duration interval) {
    if (lastStart == null) {
      return true; // the very first fetch
    }
    if (!now.isBefore(lastStart.plus(interval))) {
      return true;
    }
    // The clock stepped back by more than an interval (e.g. a correction): waiting for it to
    // catch up could lock fetching out for as long as the step.
    return now.isBefore(lastStart.minus(interval));
  }
}
