package dev.invokerguard.guard;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Writes lines to an output stream with a group commit: a thread that finds no write under way
 * writes every line queued so far, its own included, in as few {@code write} calls as the batch
 * rule allows; a thread that finds a write under way queues its line and returns at once, and the
 * writing thread writes that line too before it stops. No background thread: lines are written by
 * the threads that hand them over, so every line is written (or its write has failed) by the time
 * the last {@link #accept} in flight returns, which on a request-driven platform is while the
 * instance still has CPU (docs/DESIGN.md, "Decision log writes").
 *
 * <p>The batch rule: each {@code write} call carries whole lines only and at most {@value
 * #ATOMIC_WRITE_BYTES} bytes. A write of at most {@code PIPE_BUF} bytes (4 096 on Linux) to a pipe
 * is atomic, never interleaved with another writer's bytes; a larger one may be split and
 * interleaved with other writes at any byte (POSIX {@code write(2)}, Linux {@code pipe(7)}). So a
 * batch never cuts a line, and another writer of the same pipe (the protected handler's own {@code
 * System.out}, another process sharing the descriptor) can only come between two lines, exactly as
 * with one write per line. A single line longer than that is written alone, in one call, as it was
 * before batching; {@link DecisionLog} caps its request fields so that decision lines stay far
 * below it.
 *
 * <p>Bounded: when more than {@value #MAX_QUEUED_BYTES} bytes are queued (the reader of the stream
 * has stalled), a thread waits for the write under way and writes its own line itself, as every
 * thread did before batching, instead of growing the queue without limit.
 *
 * <p>A failed write drops its lines and never throws: a closed standard output must not turn a
 * decision into an error.
 */
final class GroupCommitWriter implements Consumer<String> {
  /** {@code PIPE_BUF} on Linux, the largest write to a pipe that is atomic. */
  static final int ATOMIC_WRITE_BYTES = 4096;

  /** Queued bytes beyond which a thread waits for the write under way instead of queueing. */
  static final int MAX_QUEUED_BYTES = 256 * 1024;

  private final OutputStream out;
  private final ConcurrentLinkedQueue<byte[]> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queuedBytes = new AtomicInteger();
  // Held by the one thread that writes; only it touches `batch`.
  private final ReentrantLock writing = new ReentrantLock();
  private final byte[] batch = new byte[ATOMIC_WRITE_BYTES];

  GroupCommitWriter(OutputStream out) {
    this.out = Objects.requireNonNull(out, "out");
  }

  /**
   * Registers a JVM shutdown hook (it runs on SIGTERM and on {@code System.exit}) that waits up to
   * {@code timeout} for the write under way and writes whatever is still queued, so that lines
   * handed over just before the end are not lost with the process.
   *
   * @return this writer
   */
  GroupCommitWriter flushedAtShutdown(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    try {
      Runtime.getRuntime()
          .addShutdownHook(new Thread(() -> flush(timeout), "invoker-guard-log-flush"));
    } catch (IllegalStateException shuttingDown) {
      // Already shutting down: no later line will be handed over to a hook anyway.
    }
    return this;
  }

  /**
   * Hands {@code line} over to be written with its {@code \n}, in UTF-8. Returns once the line is
   * written, or once a thread that is writing is bound to write it.
   */
  @Override
  public void accept(String line) {
    byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
    if (queuedBytes.addAndGet(bytes.length) > MAX_QUEUED_BYTES) {
      // The stream does not keep up: wait for the write under way, as without batching.
      writing.lock();
      queue.add(bytes);
      writeQueuedAndUnlock();
    } else {
      queue.add(bytes);
    }
    // The thread that holds the lock checks the queue again after it unlocks, and a line queued
    // before that check is seen by it (the queue and the lock are both sequentially consistent):
    // so either this thread writes the line or the holder does. Nothing is left behind.
    while (!queue.isEmpty() && writing.tryLock()) {
      writeQueuedAndUnlock();
    }
  }

  /**
   * Waits up to {@code timeout} for the write under way, then writes everything queued; what the
   * shutdown hook runs.
   *
   * @return whether the queue was found empty with no write under way before the deadline
   */
  boolean flush(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!queue.isEmpty() || writing.isLocked()) {
      try {
        if (!writing.tryLock(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
          return false;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
      writeQueuedAndUnlock();
    }
    return true;
  }

  /** With the lock held: writes every queued line in batches, then unlocks. */
  private void writeQueuedAndUnlock() {
    try {
      int filled = 0;
      for (byte[] line = queue.poll(); line != null; line = queue.poll()) {
        queuedBytes.addAndGet(-line.length);
        if (filled > 0 && filled + line.length > batch.length) {
          write(batch, filled);
          filled = 0;
        }
        if (line.length > batch.length) {
          write(line, line.length); // too long for any batch: alone, whole, in one call
        } else {
          System.arraycopy(line, 0, batch, filled, line.length);
          filled += line.length;
        }
      }
      if (filled > 0) {
        write(batch, filled);
      }
    } finally {
      writing.unlock();
    }
  }

  private void write(byte[] bytes, int length) {
    try {
      out.write(bytes, 0, length);
    } catch (IOException e) {
      // Nowhere left to report it; the decisions themselves stand.
    }
  }
}
