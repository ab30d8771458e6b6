package dev.invokerguard.testing;

import java.time.Duration;

/** Counts requests as they arrive and lets a test wait for a count, instead of sleeping. */
final class RequestCounter {

  private int count;

  synchronized void increment() {
    count++;
    notifyAll();
  }

  synchronized int count() {
    return count;
  }

  synchronized boolean await(int atLeast, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (count < atLeast) {
      long remainingNanos = deadline - System.nanoTime();
      if (remainingNanos <= 0) {
        return false;
      }
      // At least 1 ms: wait(0) would wait forever.
      wait(Math.max(1, remainingNanos / 1_000_000));
    }
    return true;
  }
}
