package dev.invokerguard.testing;

import static com.google.common.truth.Truth.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class MutableClockTest {

  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");

  @Test
  void instant_standsStillUntilMoved() {
    MutableClock clock = MutableClock.of(START);

    assertThat(clock.instant()).isEqualTo(START);
    assertThat(clock.millis()).isEqualTo(START.toEpochMilli());
    assertThat(clock.getZone()).isEqualTo(ZoneOffset.UTC);
  }

  @Test
  void setAndAdvance_moveTheClock() {
    MutableClock clock = new MutableClock(START);

    assertThat(clock.advance(Duration.ofSeconds(61))).isEqualTo(START.plusSeconds(61));
    assertThat(clock.instant()).isEqualTo(START.plusSeconds(61));
    clock.advance(Duration.ofSeconds(-1));
    assertThat(clock.instant()).isEqualTo(START.plusSeconds(60));
    clock.set(START.minusSeconds(5));
    assertThat(clock.instant()).isEqualTo(START.minusSeconds(5));
  }

  @Test
  void withZone_sharesTheSameMutableInstant() {
    MutableClock clock = new MutableClock(START);
    MutableClock paris = clock.withZone(ZoneId.of("Europe/Paris"));

    clock.advance(Duration.ofHours(1));

    assertThat(paris.instant()).isEqualTo(START.plusSeconds(3600));
    assertThat(paris.getZone()).isEqualTo(ZoneId.of("Europe/Paris"));
  }

  @Test
  void advance_concurrentCallers_loseNoUpdate() throws Exception {
    MutableClock clock = new MutableClock(START);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        futures.add(
            pool.submit(
                () -> {
                  for (int j = 0; j < 1000; j++) {
                    clock.advance(Duration.ofMillis(1));
                  }
                }));
      }
      for (Future<?> future : futures) {
        future.get();
      }
    } finally {
      pool.shutdownNow();
    }

    assertThat(clock.instant()).isEqualTo(START.plusMillis(8000));
  }

  @Test
  void defaultConstructor_startsNearSystemTime() {
    Instant before = Instant.now().minusSeconds(1);

    Instant now = new MutableClock().instant();

    assertThat(now).isAtLeast(before);
    assertThat(now).isAtMost(Instant.now());
  }
}
