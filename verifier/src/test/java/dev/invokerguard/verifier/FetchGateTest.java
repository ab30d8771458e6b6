package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** {@link FetchGate}: single flight and the rate limit, without a fetcher or a clock. */
final class FetchGateTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final Duration INTERVAL = Duration.ofSeconds(10);

  private final FetchGate gate = new FetchGate(INTERVAL);

  @Test
  void firstFetch_startsWhatever() {
    assertThat(gate.underWay()).isNull();

    CompletableFuture<KeySet> fetch = gate.tryStart(T0);

    assertThat(fetch).isNotNull();
    assertThat(gate.underWay()).isSameInstanceAs(fetch);
    assertThat(gate.started()).isEqualTo(1);
  }

  @Test
  void whileOneIsUnderWay_noSecondStartsEvenAfterTheInterval() {
    CompletableFuture<KeySet> fetch = gate.tryStart(T0);

    assertThat(gate.tryStart(T0.plus(INTERVAL).plusSeconds(60))).isNull();
    assertThat(gate.underWay()).isSameInstanceAs(fetch);
    assertThat(gate.started()).isEqualTo(1);
  }

  @Test
  void afterOneEnds_nextStartsOnlyOnceTheIntervalPassedSinceTheLastStart() {
    CompletableFuture<KeySet> first = gate.tryStart(T0);
    assertThat(gate.end(first, false)).isTrue();

    assertThat(gate.underWay()).isNull();
    assertThat(gate.tryStart(T0.plus(INTERVAL).minusNanos(1))).isNull();
    assertThat(gate.tryStart(T0.plus(INTERVAL))).isNotNull();
    assertThat(gate.started()).isEqualTo(2);
  }

  @Test
  void end_recordsWhetherTheLastFetchSucceeded() {
    assertThat(gate.lastSucceeded()).isFalse();
    gate.end(gate.tryStart(T0), true);
    assertThat(gate.lastSucceeded()).isTrue();
    gate.end(gate.tryStart(T0.plus(INTERVAL)), false);
    assertThat(gate.lastSucceeded()).isFalse();
  }

  @Test
  void end_ofAFetchAlreadyGivenUp_changesNothing() {
    CompletableFuture<KeySet> fetch = gate.tryStart(T0);
    fetch.completeExceptionally(new IllegalStateException("given up"));

    assertThat(gate.end(fetch, true)).isFalse();
    assertThat(gate.lastSucceeded()).isFalse();
    assertThat(gate.end(new CompletableFuture<>(), true)).isFalse(); // not the one under way
  }

  @Test
  void rateLimit_clockSteppedBackByMoreThanAnInterval_allowsAFetch() {
    assertThat(FetchGate.rateLimitAllows(T0, T0.minus(INTERVAL).minusNanos(1), INTERVAL)).isTrue();
    assertThat(FetchGate.rateLimitAllows(T0, T0.minus(INTERVAL), INTERVAL)).isFalse();
    assertThat(FetchGate.rateLimitAllows(T0, T0.minusSeconds(1), INTERVAL)).isFalse();
    assertThat(FetchGate.rateLimitAllows(null, T0, INTERVAL)).isTrue();
  }

  @Test
  void close_noFetchStartsAndTheOneUnderWayIsReturned() {
    CompletableFuture<KeySet> fetch = gate.tryStart(T0);

    assertThat(gate.close()).isSameInstanceAs(fetch);
    assertThat(gate.closed()).isTrue();
    gate.end(fetch, false);
    assertThat(gate.tryStart(T0.plus(INTERVAL))).isNull();
  }
}
