package dev.invokerguard.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A {@link Clock} whose time only moves when a test moves it, so that expiry, skew and cache-age
 * rules can be tested without waiting.
 *
 * <p>Thread-safe: the current instant is held atomically, so a test thread may {@link #advance} the
 * clock while a background refresh thread of the code under test reads it. The zone is UTC unless
 * {@link #withZone} is used; clocks derived with {@code withZone} share the same instant.
 *
 * <p>This module is for tests and local development only and is never deployed.
 */
public final class MutableClock extends Clock {

  private final AtomicReference<Instant> now;
  private final ZoneId zone;

  /** Creates a clock standing at the current system time, truncated to whole seconds. */
  public MutableClock() {
    this(Instant.now().truncatedTo(ChronoUnit.SECONDS));
  }

  /**
   * Creates a clock standing at {@code start}.
   *
   * @param start the instant the clock reports until it is moved
   */
  public MutableClock(Instant start) {
    this(new AtomicReference<>(Objects.requireNonNull(start, "start")), ZoneOffset.UTC);
  }

  private MutableClock(AtomicReference<Instant> now, ZoneId zone) {
    this.now = now;
    this.zone = zone;
  }

  /**
   * Returns a clock standing at {@code start}; same as {@link #MutableClock(Instant)}.
   *
   * @param start the instant the clock reports until it is moved
   * @return a new clock
   */
  public static MutableClock of(Instant start) {
    return new MutableClock(start);
  }

  /**
   * Moves the clock to {@code instant}, forwards or backwards.
   *
   * @param instant the new current instant
   */
  public void set(Instant instant) {
    now.set(Objects.requireNonNull(instant, "instant"));
  }

  /**
   * Moves the clock by {@code duration} (negative moves it back) and returns the new instant.
   *
   * @param duration how far to move
   * @return the instant after moving
   */
  public Instant advance(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    return now.updateAndGet(current -> current.plus(duration));
  }

  /** Returns the instant the clock currently stands at. */
  @Override
  public Instant instant() {
    return now.get();
  }

  /** Returns the zone of this view of the clock (UTC unless derived with {@link #withZone}). */
  @Override
  public ZoneId getZone() {
    return zone;
  }

  /**
   * Returns a view of this clock in another zone that shares the same, still mutable, instant.
   *
   * @param zone the zone of the returned view
   * @return a clock that moves whenever this one moves
   */
  @Override
  public MutableClock withZone(ZoneId zone) {
    return new MutableClock(now, Objects.requireNonNull(zone, "zone"));
  }

  /** Returns a short description with the current instant, for test failure messages. */
  @Override
  public String toString() {
    return "MutableClock[" + now.get() + ", " + zone + "]";
  }
}
