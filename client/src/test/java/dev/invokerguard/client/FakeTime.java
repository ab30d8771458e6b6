package dev.invokerguard.client;

import com.google.api.client.util.Sleeper;
import dev.invokerguard.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** A sleeper that advances a {@link MutableClock} instead of waiting, and records the waits. */
final class FakeTime implements Sleeper {
  final MutableClock clock = MutableClock.of(Instant.parse("2026-11-28T12:00:00Z"));
  private final List<Duration> waits = new ArrayList<>();

  @Override
  public synchronized void sleep(long millis) {
    waits.add(Duration.ofMillis(millis));
    clock.advance(Duration.ofMillis(millis));
  }

  synchronized List<Duration> waits() {
    return List.copyOf(waits);
  }
}
