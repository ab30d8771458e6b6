package dev.invokerguard.verifier;

import java.lang.System.Logger.Level;
import java.net.URI;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the key cache tells the outside: key health events to the {@link KeyHealthListener}, one
 * counter per {@link KeyFetchOutcome}, and one {@code DEBUG} line per fetch through {@link
 * System.Logger} (never the body or key material).
 *
 * <p>Events are queued in the order of the changes (the cache queues them under its lock) and
 * handed to the listener outside that lock, one at a time ({@link #emitPending}), so a slow
 * listener never holds up a request that does not itself report.
 */
final class KeyHealthReporter {
  private static final System.Logger LOG = System.getLogger(JwksKeyCache.class.getName());
  private static final KeyFetchOutcome[] OUTCOMES = KeyFetchOutcome.values();

  private final URI jwksUri;
  private final KeyHealthListener listener;
  private final LongAdder[] fetchOutcomes = new LongAdder[OUTCOMES.length];
  private final Queue<KeyHealthEvent> pending = new ConcurrentLinkedQueue<>();
  private volatile KeyHealth lastHealth; // for stats only

  /** Held while handing events to the listener, so that they arrive one at a time, in order. */
  private final Object emitLock = new Object();

  KeyHealthReporter(URI jwksUri, KeyHealthListener listener) {
    this.jwksUri = jwksUri;
    this.listener = listener;
    for (int i = 0; i < fetchOutcomes.length; i++) {
      fetchOutcomes[i] = new LongAdder();
    }
  }

  /**
   * Queues the events of one change. Called under the cache's lock, so the order is the changes'.
   */
  void queue(List<KeyHealthEvent> events) {
    for (KeyHealthEvent event : events) {
      pending.add(event);
      lastHealth = event.health();
    }
  }

  /**
   * Hands the queued events to the listener, one at a time and in order. A listener that throws is
   * ignored: reporting never changes a decision.
   */
  void emitPending() {
    synchronized (emitLock) {
      KeyHealthEvent event;
      while ((event = pending.poll()) != null) {
        try {
          listener.keyHealthChanged(event);
        } catch (RuntimeException e) {
          // Nothing to do: the state change happened whether or not it was reported.
        }
      }
    }
  }

  /**
   * Counts a fetch's outcome; called when the fetch ends, before its health events are reported, so
   * that a listener that reads the counters sees it.
   */
  void count(KeyFetchOutcome outcome) {
    fetchOutcomes[outcome.ordinal()].increment();
  }

  /** Logs a fetch that installed {@code set}. */
  void logSuccess(KeySet set) {
    LOG.log(
        Level.DEBUG,
        "JWKS fetched from {0}: HTTP 200, {1} keys, fresh for {2}",
        jwksUri,
        set.keys().size(),
        set.ttl());
  }

  /** Logs a failed fetch ({@code cause} already unwrapped). */
  void logFailure(KeyFetchOutcome outcome, Throwable cause) {
    // A KeyFetchException's message is written by this package; other messages may quote
    // anything, so only their class is logged.
    LOG.log(
        Level.DEBUG,
        "JWKS fetch from {0} failed: {1} ({2})",
        jwksUri,
        outcome,
        cause instanceof KeyFetchException ? cause.getMessage() : cause.getClass().getName());
  }

  /** Fetches so far by {@link KeyFetchOutcome} ordinal. */
  long[] fetchCounts() {
    long[] fetches = new long[OUTCOMES.length];
    for (int i = 0; i < fetches.length; i++) {
      fetches[i] = fetchOutcomes[i].sum();
    }
    return fetches;
  }

  /** The state the last event reported, or {@code null} before any. */
  KeyHealth lastHealth() {
    return lastHealth;
  }
}
