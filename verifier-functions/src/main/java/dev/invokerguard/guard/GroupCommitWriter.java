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
import java.util.function.LongSupplier;

/**
 * Writes lines to an output stream with a group commit: a thread that finds no write under way
 * writes every line queued so far, its own included, in as few {@code write} calls as the batch
 * rule allows; a thread that finds a write under way queues its line and returns at once, and the
 * writing thread writes that line too before it stops. No background thread: lines are written by
 * the threads that hand them over, so every line is written (or its write has failed) by the time
 * the last {@link #accept} in flight returns, which on a request-driven platform is while the
 * instance still has CPU (docs/DESIGN.md, "Decision log writes").
 *
 * <p>Requests in flight: a request marks its start and end ({@link #enter}, {@link #leave}) and
 * hands its lines over with {@link #acceptInRequest}. While another request is in flight, such a
 * line waits in the queue; the request whose end leaves none in flight writes everything queued
 * before it returns. So lines wait at most for the requests in flight at their hand-over, and a
 * full batch or a wait past {@link #MAX_WAIT_NANOS} is written at once by the next thread that
 * comes by.
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
  // Requests between enter() and leave(): while another is in flight, a request's line may wait.
  private final AtomicInteger inFlight = new AtomicInteger();
  // System.nanoTime() when the oldest line left waiting was queued; 0 when none is known to wait.
  private volatile long waitingSince;

  /** How long a line may wait for other requests in flight before the next thread writes it. */
  static final long MAX_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  private final LongSupplier nanoTime;

  GroupCommitWriter(OutputStream out) {
    this(out, System::nanoTime);
  }

  /**
   * @param nanoTime {@link System#nanoTime} but in tests, which move it themselves
   */
  GroupCommitWriter(OutputStream out, LongSupplier nanoTime) {
    this.out = Objects.requireNonNull(out, "out");
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
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
    handOver(bytes, queuedBytes.addAndGet(bytes.length));
  }

  private void handOver(byte[] bytes, int queued) {
    if (queued > MAX_QUEUED_BYTES) {
      // The stream does not keep up: wait for the write under way, as without batching.
      writing.lock();
      queue.add(bytes);
      writeQueuedAndUnlock();
    } else {
      queue.add(bytes);
    }
    drain();
  }

  /** A request begins: until its {@link #leave}, lines it hands over may wait for others. */
  void enter() {
    inFlight.incrementAndGet();
  }

  /**
   * A request ends. The last request in flight writes every line still queued before it returns, so
   * no line outlives the requests that were in flight when it was handed over.
   */
  void leave() {
    if (inFlight.decrementAndGet() == 0 || overdue(waitingSince)) {
      drain();
    }
  }

  /**
   * Hands over a line from a request between {@link #enter} and {@link #leave}. While another
   * request is in flight, the line waits in the queue (a later thread writes it with others in one
   * call) unless a full batch is queued or a line has waited {@link #MAX_WAIT_NANOS}; alone, the
   * request writes it at once, as {@link #accept} does.
   */
  void acceptInRequest(String line) {
    byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
    int queued = queuedBytes.addAndGet(bytes.length);
    if (queued <= ATOMIC_WRITE_BYTES && inFlight.get() > 1) {
      long since = waitingSince;
      if (since == 0) {
        queue.add(bytes);
        waitingSince = nanoTime.getAsLong();
        return;
      }
      if (!overdue(since)) {
        queue.add(bytes);
        return;
      }
    }
    handOver(bytes, queued);
  }

  private boolean overdue(long since) {
    return since != 0 && nanoTime.getAsLong() - since > MAX_WAIT_NANOS;
  }

  private void drain() {
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
      waitingSince = 0;
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
