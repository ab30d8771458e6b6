package dev.invokerguard.verifier;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * One setting of the verifier in one place: its name, its default and the range a value must lie
 * in. {@link CallerVerifier.Builder} checks every value with {@link #check}, and the environment
 * reader of the {@code verifier-functions} module reads each duration setting from the variable
 * {@link #environmentVariable()} names and checks it with the same method, so that the two can
 * never disagree on a default or a bound.
 *
 * @param name the builder method that sets it, e.g. {@code keyRefetchInterval}
 * @param defaultValue the value when none is given
 * @param min the smallest value accepted
 * @param max the largest value accepted
 * @param <T> {@link Duration} or {@link Integer}
 */
public record Setting<T extends Comparable<? super T>>(String name, T defaultValue, T min, T max) {
  /** Checks that the bounds are in order and hold the default. */
  public Setting {
    Objects.requireNonNull(name, "name");
    check(Objects.requireNonNull(defaultValue, "defaultValue"), min, max);
  }

  /**
   * Returns {@code value} if it lies within {@code [min, max]}.
   *
   * @throws IllegalArgumentException naming the setting and its range otherwise
   * @throws NullPointerException if {@code value} is null
   */
  public T check(T value) {
    Objects.requireNonNull(value, name);
    if (!check(value, min, max)) {
      throw new IllegalArgumentException(
          name + " must be between " + min + " and " + max + ", got " + value);
    }
    return value;
  }

  private static <T extends Comparable<? super T>> boolean check(T value, T min, T max) {
    return value.compareTo(Objects.requireNonNull(min, "min")) >= 0
        && value.compareTo(Objects.requireNonNull(max, "max")) <= 0;
  }

  /**
   * The environment variable that sets it: the name in upper snake case, with {@code _SECONDS} for
   * a duration, which the environment gives in whole seconds ({@code keyRefetchInterval} is {@code
   * KEY_REFETCH_INTERVAL_SECONDS}).
   */
  public String environmentVariable() {
    String snake = name.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toUpperCase(Locale.ROOT);
    return defaultValue instanceof Duration ? snake + "_SECONDS" : snake;
  }
}
