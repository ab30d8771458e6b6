package dev.invokerguard.verifier;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The verifier's decision counters, cheap enough for every request: one {@link LongAdder} increment
 * per verification, nothing allocated. A {@code LongAdder} costs one uncontended compare-and-set,
 * and under contention spreads over per-thread cells instead of making threads retry on one shared
 * word.
 *
 * <p>One cell per (cache lookup, decision) pair rather than one counter per dimension, so that a
 * request bumps one counter, not two: a cache hit that is allowed (the hot path) is {@link
 * #allowedHit()} alone, and the totals per decision and per lookup are sums taken when a snapshot
 * is read, which is rare.
 */
final class DecisionCounters {
  /** Rejected before the token reached the cache (the header rules). */
  static final int NO_LOOKUP = 0;

  /** Answered from the verified-token cache. */
  static final int HIT = 1;

  /** Not in the cache (or the cache is off): verified in full. */
  static final int MISS = 2;

  private static final Reason[] REASONS = Reason.values();

  // Per lookup: [0] allowed, [1] unexpected error, [2 + ordinal] rejected for that reason.
  private static final int DECISIONS = 2 + REASONS.length;

  private final LongAdder[] counts = new LongAdder[3 * DECISIONS];

  /** The hot one, also {@code counts[HIT * DECISIONS]}, in a field to spare the array access. */
  private final LongAdder allowedHits;

  DecisionCounters() {
    for (int i = 0; i < counts.length; i++) {
      counts[i] = new LongAdder();
    }
    allowedHits = counts[HIT * DECISIONS];
  }

  void allowedHit() {
    allowedHits.increment();
  }

  void allowed(int lookup) {
    counts[lookup * DECISIONS].increment();
  }

  void failed(int lookup) {
    counts[lookup * DECISIONS + 1].increment();
  }

  void rejected(int lookup, Reason reason) {
    counts[lookup * DECISIONS + 2 + reason.ordinal()].increment();
  }

  long allowed() {
    return sumOverLookups(0);
  }

  long failed() {
    return sumOverLookups(1);
  }

  Map<Reason, Long> rejected() {
    Map<Reason, Long> rejected = new EnumMap<>(Reason.class);
    for (Reason reason : REASONS) {
      rejected.put(reason, sumOverLookups(2 + reason.ordinal()));
    }
    return rejected;
  }

  /** Every decision taken after a lookup with this outcome ({@link #HIT} or {@link #MISS}). */
  long lookups(int lookup) {
    long sum = 0;
    for (int i = 0; i < DECISIONS; i++) {
      sum += counts[lookup * DECISIONS + i].sum();
    }
    return sum;
  }

  private long sumOverLookups(int decision) {
    return counts[NO_LOOKUP * DECISIONS + decision].sum()
        + counts[HIT * DECISIONS + decision].sum()
        + counts[MISS * DECISIONS + decision].sum();
  }
}
