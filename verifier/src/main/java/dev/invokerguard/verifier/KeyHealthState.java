package dev.invokerguard.verifier;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The key set's health as a value, and its changes as pure functions of (outcome, set, now): each
 * returns the next state and the {@link KeyHealthEvent}s to report, in order (usually none). No
 * clock, no lock, no listener: {@link JwksKeyCache} applies a {@link Step} under its lock and
 * {@link KeyHealthReporter} hands the events out.
 *
 * <p>Two kinds of moments change it: a fetch ends ({@link #afterSuccess}, {@link #afterFailure}),
 * or time passes while fetches fail ({@link #asTimePasses}: the set in use reaches its expiry or
 * its usable bound). Each change is reported once; later failures of one run only count.
 *
 * @param jwksUri the key endpoint, named in every event
 * @param phase where the key set stands
 * @param failedFetches fetches failed since the phase was last {@link Phase#HEALTHY}
 * @param firstFailureAt the first failure of the current run, or {@code null} when healthy
 */
record KeyHealthState(URI jwksUri, Phase phase, int failedFetches, Instant firstFailureAt) {
  /** The states; the events ({@link KeyHealth}) name the changes between them. */
  enum Phase {
    NONE,
    HEALTHY,
    FETCH_FAILED,
    STALE_IN_USE,
    UNUSABLE
  }

  /** The next state and the events the change reports, in order. */
  record Step(KeyHealthState next, List<KeyHealthEvent> events) {}

  /** Before anything happened. */
  static KeyHealthState initial(URI jwksUri) {
    return new KeyHealthState(jwksUri, Phase.NONE, 0, null);
  }

  /** A fetch succeeded and {@code set} is now in use. */
  Step afterSuccess(KeySet set, Instant now) {
    KeyHealthState next = new KeyHealthState(jwksUri, Phase.HEALTHY, 0, null);
    return switch (phase) {
      case HEALTHY -> new Step(next, List.of()); // a routine refresh: nothing to report
      case NONE -> new Step(next, List.of(event(KeyHealth.LOADED, now, set, null, null, null)));
      default ->
          new Step(
              next,
              List.of(
                  event(
                      KeyHealth.RECOVERED,
                      now,
                      set,
                      null,
                      null,
                      Duration.between(firstFailureAt, now))));
    };
  }

  /**
   * A fetch failed with {@code outcome} ({@code cause} already unwrapped); {@code set} is the set
   * still in use, or {@code null}.
   */
  Step afterFailure(KeyFetchOutcome outcome, Throwable cause, KeySet set, Instant now) {
    boolean runStarts = phase == Phase.NONE || phase == Phase.HEALTHY;
    KeyHealthState failed =
        new KeyHealthState(jwksUri, phase, failedFetches + 1, runStarts ? now : firstFailureAt);
    String detail = cause instanceof KeyFetchException ? cause.getMessage() : null;
    Throwable thrown = cause instanceof KeyFetchException ? cause.getCause() : cause;
    Failure failure =
        new Failure(outcome, thrown == null ? null : thrown.getClass().getName(), detail);
    if (set == null || !set.usableAt(now)) {
      if (phase == Phase.UNUSABLE) {
        return new Step(failed, List.of());
      }
      return new Step(
          failed.in(Phase.UNUSABLE),
          List.of(failed.event(KeyHealth.UNUSABLE, now, set, failure, null, null)));
    }
    if (phase == Phase.HEALTHY) {
      KeyHealthEvent fetchFailed =
          failed.event(KeyHealth.FETCH_FAILED, now, set, failure, null, null);
      if (set.expiredAt(now)) {
        return new Step(
            failed.in(Phase.STALE_IN_USE),
            List.of(
                fetchFailed, failed.event(KeyHealth.STALE_IN_USE, now, set, failure, null, null)));
      }
      return new Step(failed.in(Phase.FETCH_FAILED), List.of(fetchFailed));
    }
    if (phase == Phase.FETCH_FAILED && set.expiredAt(now)) {
      return new Step(
          failed.in(Phase.STALE_IN_USE),
          List.of(failed.event(KeyHealth.STALE_IN_USE, now, set, failure, null, null)));
    }
    return new Step(failed, List.of());
  }

  /**
   * Time passed while fetches fail: {@code set} (the set in use) reached its expiry ({@link
   * KeyHealth#STALE_IN_USE}) or its usable bound ({@link KeyHealth#UNUSABLE}). Nothing changes in
   * any other phase.
   */
  Step asTimePasses(KeySet set, Instant now) {
    if (phase != Phase.FETCH_FAILED && phase != Phase.STALE_IN_USE) {
      return new Step(this, List.of()); // healthy: a due refresh is under way or about to start
    }
    if (!set.usableAt(now)) {
      return new Step(
          in(Phase.UNUSABLE),
          List.of(
              event(
                  KeyHealth.UNUSABLE,
                  now,
                  set,
                  null,
                  "the keys in use passed their expiry plus the staleness bound",
                  null)));
    }
    if (phase == Phase.FETCH_FAILED && set.expiredAt(now)) {
      return new Step(
          in(Phase.STALE_IN_USE),
          List.of(event(KeyHealth.STALE_IN_USE, now, set, null, null, null)));
    }
    return new Step(this, List.of());
  }

  private KeyHealthState in(Phase next) {
    return new KeyHealthState(jwksUri, next, failedFetches, firstFailureAt);
  }

  /** How a fetch failed, as an event names it. */
  private record Failure(KeyFetchOutcome outcome, String exceptionClass, String detail) {}

  /**
   * One event about {@code set} (the set in use, possibly none); {@code detail} without failure.
   */
  private KeyHealthEvent event(
      KeyHealth health, Instant now, KeySet set, Failure failure, String detail, Duration outage) {
    return new KeyHealthEvent(
        health,
        now,
        jwksUri,
        set == null ? 0 : set.keys().size(),
        set == null ? Optional.empty() : Optional.of(set.ageAt(now)),
        set == null || health == KeyHealth.UNUSABLE ? Duration.ZERO : set.usableFor(now),
        Optional.ofNullable(failure == null ? null : failure.outcome()),
        Optional.ofNullable(failure == null ? null : failure.exceptionClass()),
        Optional.ofNullable(failure == null ? detail : failure.detail()),
        failedFetches,
        Optional.ofNullable(outage));
  }
}
