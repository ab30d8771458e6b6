package dev.invokerguard.guard;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.testing.ChildJvm;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * {@link GroupCommitWriter} on real OS pipes ({@link Pipe} is a {@code pipe(2)} on Linux, and a
 * child JVM's stdout is one): every line handed over is written whole, once; writes carry whole
 * lines of at most 4 096 bytes; nothing queued is lost at SIGTERM; a closed pipe never throws.
 */
class GroupCommitWriterTest {
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  /** The line {@code n} of {@code thread}, padded to {@code length} bytes before its newline. */
  static String line(int thread, int n, int length) {
    String head = "{\"thread\":" + thread + ",\"n\":" + n + ",\"pad\":\"";
    return head + "x".repeat(Math.max(0, length - head.length() - 2)) + "\"}";
  }

  @Test
  void concurrentLines_realPipe_everyLineOnceAndWholeInWritesOfWholeLinesUpTo4096Bytes()
      throws Exception {
    // Every accept has returned before the pipe is closed: every line must already be written.
    assertEveryLineOnceAndWholeThroughAPipe(GroupCommitWriter::accept);
  }

  @Test
  void requestsInFlight_realPipe_everyLineOnceAndWholeByTheTimeTheLastRequestReturns()
      throws Exception {
    // The last request in flight has returned before the pipe is closed: every line must be
    // written, though most waited for other requests.
    assertEveryLineOnceAndWholeThroughAPipe(
        (writer, line) -> {
          writer.enter();
          try {
            writer.acceptInRequest(line);
          } finally {
            writer.leave();
          }
        });
  }

  /**
   * 16 threads hand over 2 000 lines each with {@code handOver} to a writer on a real pipe; once
   * all have returned the pipe is closed, without any flush, and what the reader got is checked:
   * every line once, whole, in its thread's order, in writes of whole lines of at most 4 096 bytes.
   */
  private static void assertEveryLineOnceAndWholeThroughAPipe(
      BiConsumer<GroupCommitWriter, String> handOver) throws Exception {
    int threads = 16;
    int perThread = 2_000;
    Pipe pipe = Pipe.open();
    RecordingStream recording = new RecordingStream(Channels.newOutputStream(pipe.sink()));
    GroupCommitWriter writer = new GroupCommitWriter(recording);
    Future<byte[]> read = readAll(Channels.newInputStream(pipe.source()));

    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> producers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        producers.add(
            pool.submit(
                () -> {
                  for (int n = 0; n < perThread; n++) {
                    handOver.accept(writer, line(thread, n, 200 + (n % 7) * 50));
                  }
                }));
      }
      for (Future<?> producer : producers) {
        producer.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    pipe.sink().close();
    String output = new String(read.get(), StandardCharsets.UTF_8);

    assertEveryLineOnceAndWhole(output, threads, perThread);
    List<byte[]> writes = recording.writes();
    System.out.printf("%d lines in %d write calls%n", threads * perThread, writes.size());
    for (byte[] write : writes) {
      assertThat(write.length).isAtMost(GroupCommitWriter.ATOMIC_WRITE_BYTES);
      assertThat(write[write.length - 1]).isEqualTo((byte) '\n');
    }
  }

  @Test
  void lineOfARequestWhileAnotherIsInFlight_waitsThenGoesOutWithTheLastRequestInOneWrite() {
    RecordingStream recording = new RecordingStream(new ByteArrayOutputStream());
    GroupCommitWriter writer = new GroupCommitWriter(recording, new FakeNanos()::now);
    writer.enter(); // request A
    writer.enter(); // request B
    writer.acceptInRequest(line(0, 0, 300));
    writer.acceptInRequest(line(1, 0, 300));
    assertWithMessage("lines wait while another request is in flight")
        .that(recording.writes())
        .isEmpty();
    writer.leave();
    assertThat(recording.writes()).isEmpty();
    writer.leave(); // the last request in flight writes both before it returns

    assertThat(recording.writes()).hasSize(1);
    assertThat(new String(recording.writes().get(0), StandardCharsets.UTF_8))
        .isEqualTo(line(0, 0, 300) + "\n" + line(1, 0, 300) + "\n");
  }

  @Test
  void lineOfARequestAlone_writtenBeforeItIsHandedBack() {
    RecordingStream recording = new RecordingStream(new ByteArrayOutputStream());
    GroupCommitWriter writer = new GroupCommitWriter(recording, new FakeNanos()::now);
    writer.enter();
    writer.acceptInRequest(line(0, 0, 300));
    // Before its answer: a caller alone finds its line written by the time it has the answer.
    assertThat(recording.writes()).hasSize(1);
    writer.leave();
    assertThat(recording.writes()).hasSize(1);
  }

  @Test
  void fullBatchQueued_writtenAtOnceEvenWithOthersInFlight() {
    RecordingStream recording = new RecordingStream(new ByteArrayOutputStream());
    GroupCommitWriter writer = new GroupCommitWriter(recording, new FakeNanos()::now);
    writer.enter();
    writer.enter();
    // 1 001 bytes a line with its newline: four (4 004) fit a write, the fifth makes it more.
    for (int n = 0; n < 4; n++) {
      writer.acceptInRequest(line(0, n, 1000));
    }
    assertThat(recording.writes()).isEmpty();
    writer.acceptInRequest(line(0, 4, 1000));

    assertThat(recording.writes()).hasSize(2);
    assertThat(recording.writes().get(0)).hasLength(4 * 1001);
    assertThat(recording.writes().get(1)).hasLength(1001);
  }

  @Test
  void lineWaitingLongerThanTheBound_writtenByTheNextRequestThatHandsOverOrLeaves() {
    RecordingStream recording = new RecordingStream(new ByteArrayOutputStream());
    FakeNanos nanos = new FakeNanos();
    GroupCommitWriter writer = new GroupCommitWriter(recording, nanos::now);
    writer.enter(); // a long request, in flight throughout
    writer.enter();
    writer.acceptInRequest(line(0, 0, 300));
    nanos.advance(GroupCommitWriter.MAX_WAIT_NANOS);
    writer.acceptInRequest(line(0, 1, 300));
    assertWithMessage("at the bound, not past it: still waiting")
        .that(recording.writes())
        .isEmpty();
    nanos.advance(1);
    writer.leave(); // past the bound: the leaving request writes both, the long one still runs
    assertThat(recording.writes()).hasSize(1);
    assertThat(recording.writes().get(0)).hasLength(2 * 301);

    writer.enter();
    writer.acceptInRequest(line(0, 2, 300));
    nanos.advance(GroupCommitWriter.MAX_WAIT_NANOS + 1);
    writer.enter();
    writer.acceptInRequest(line(0, 3, 300)); // past the bound: written with the one waiting
    assertThat(recording.writes()).hasSize(2);
    assertThat(recording.writes().get(1)).hasLength(2 * 301);
  }

  @Test
  void lineHandedOverOutsideARequest_writtenAtOnceWhileRequestsAreInFlight() {
    RecordingStream recording = new RecordingStream(new ByteArrayOutputStream());
    GroupCommitWriter writer = new GroupCommitWriter(recording, new FakeNanos()::now);
    writer.enter();
    writer.enter();
    writer.acceptInRequest(line(0, 0, 300));
    // A key health line from the key fetch thread holds no request in flight: nobody would be
    // bound to write it later, so it goes out now, with the request line queued before it.
    writer.accept(line(9, 0, 300));
    assertThat(recording.writes()).hasSize(1);
    assertThat(recording.writes().get(0)).hasLength(2 * 301);
  }

  @Test
  void linesHandedOverDuringAWrite_returnAtOnceAndGoOutTogetherInWholeLineWrites()
      throws Exception {
    GatedStream gated = new GatedStream(new ByteArrayOutputStream());
    GroupCommitWriter writer = new GroupCommitWriter(gated);
    Thread first = new Thread(() -> writer.accept(line(0, 0, 300)));
    first.start();
    gated.awaitBlocked();

    // 100 lines of 300 bytes (301 with the newline) while the first write is held: none waits.
    Thread others =
        new Thread(
            () -> {
              for (int n = 1; n <= 100; n++) {
                writer.accept(line(1, n, 300));
              }
            });
    others.start();
    others.join(DEADLINE.toMillis());
    assertWithMessage("the 100 lines handed over during a write returned at once")
        .that(others.isAlive())
        .isFalse();

    gated.open();
    first.join(DEADLINE.toMillis());
    assertThat(first.isAlive()).isFalse();

    List<byte[]> writes = gated.writes();
    // The first line alone, then 100 lines in writes of 13 (13 * 301 = 3 913 <= 4 096).
    assertThat(writes).hasSize(1 + 8);
    assertThat(writes.get(0)).hasLength(301);
    for (int i = 1; i < writes.size(); i++) {
      assertThat(writes.get(i)).hasLength(i < 8 ? 13 * 301 : 9 * 301);
    }
    StringBuilder expected = new StringBuilder(line(0, 0, 300)).append('\n');
    for (int n = 1; n <= 100; n++) {
      expected.append(line(1, n, 300)).append('\n');
    }
    assertThat(gated.text()).isEqualTo(expected.toString());
  }

  @Test
  void lineLongerThanTheAtomicWrite_writtenAloneAndWholeBetweenBatches() throws Exception {
    GatedStream gated = new GatedStream(new ByteArrayOutputStream());
    GroupCommitWriter writer = new GroupCommitWriter(gated);
    Thread first = new Thread(() -> writer.accept(line(0, 0, 100)));
    first.start();
    gated.awaitBlocked();
    writer.accept(line(1, 1, 100));
    writer.accept(line(1, 2, 5_000));
    writer.accept(line(1, 3, 100));
    gated.open();
    first.join(DEADLINE.toMillis());

    List<byte[]> writes = gated.writes();
    assertThat(writes.stream().map(w -> w.length).toList())
        .containsExactly(101, 101, 5_001, 101)
        .inOrder();
    assertThat(gated.text())
        .isEqualTo(
            String.join("\n", line(0, 0, 100), line(1, 1, 100), line(1, 2, 5_000), line(1, 3, 100))
                + "\n");
  }

  @Test
  void streamThatStalls_queueBoundedThenHandersWaitAndNothingIsLost() throws Exception {
    GatedStream gated = new GatedStream(new ByteArrayOutputStream());
    GroupCommitWriter writer = new GroupCommitWriter(gated);
    Thread first = new Thread(() -> writer.accept(line(0, 0, 100)));
    first.start();
    gated.awaitBlocked();

    // 1 000 lines of 1 000 bytes: more than the queue's bound while the write is held.
    int lines = 1_000;
    Thread producer =
        new Thread(
            () -> {
              for (int n = 1; n <= lines; n++) {
                writer.accept(line(1, n, 999));
              }
            });
    producer.start();
    awaitTrue(
        () -> producer.getState() == Thread.State.WAITING,
        "the producer waits once the queue is full");
    assertThat(producer.isAlive()).isTrue();

    gated.open();
    producer.join(DEADLINE.toMillis());
    first.join(DEADLINE.toMillis());
    assertThat(producer.isAlive()).isFalse();

    String[] written = gated.text().split("\n");
    assertThat(written).hasLength(1 + lines);
    for (int n = 1; n <= lines; n++) {
      assertThat(written[n]).isEqualTo(line(1, n, 999));
    }
  }

  @Test
  void readerGone_concurrentLinesDroppedWithoutThrowingAndWriterStaysUsable() throws Exception {
    Pipe pipe = Pipe.open();
    pipe.source().close(); // nobody reads: every write fails with EPIPE
    GroupCommitWriter writer = new GroupCommitWriter(Channels.newOutputStream(pipe.sink()));

    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> producers = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int thread = t;
        producers.add(
            pool.submit(
                () -> {
                  for (int n = 0; n < 500; n++) {
                    writer.accept(line(thread, n, 200));
                  }
                }));
      }
      for (Future<?> producer : producers) {
        producer.get(DEADLINE.toSeconds(), TimeUnit.SECONDS); // throws if an accept threw
      }
    } finally {
      pool.shutdownNow();
    }

    assertThat(writer.flush(Duration.ofSeconds(5))).isTrue(); // nothing stuck, nothing queued
  }

  @Test
  void sigtermWhileAWriteIsHeld_everyLineHandedOverReachesThePipe() throws Exception {
    try (ChildJvm child =
        ChildJvm.builder(GroupCommitShutdownChild.class.getName())
            .args("8", "80")
            .pipeStdout()
            .start()) {
      Future<byte[]> read = readAll(child.process().getInputStream());
      awaitTrue(
          () -> child.stderr().contains("handed-over ") || !child.isAlive(),
          "the child handed its lines over");
      assertWithMessage(child.stderr()).that(child.isAlive()).isTrue();
      int handedOver =
          Integer.parseInt(child.stderr().replaceAll("(?s).*handed-over (\\d+).*", "$1"));
      // 640 lines of 301 bytes: queued, under the queue's bound, so no producer waited.
      assertThat(handedOver).isEqualTo(1 + 8 * 80);

      // SIGTERM while the first write is still held and 640 lines are queued. Through the handle:
      // Process.destroy() would also close our end of the pipe.
      assertThat(child.process().toHandle().destroy()).isTrue();
      assertThat(child.awaitExit(DEADLINE)).isNotEqualTo(0);
      String output = new String(read.get(), StandardCharsets.UTF_8);

      Set<String> expected = new HashSet<>();
      expected.add(line(-1, 0, 300));
      for (int t = 0; t < 8; t++) {
        for (int n = 0; n < 80; n++) {
          expected.add(line(t, n, 300));
        }
      }
      List<String> written = Arrays.asList(output.split("\n", -1));
      assertThat(written.get(written.size() - 1)).isEmpty(); // ends with a whole line
      List<String> lines = written.subList(0, written.size() - 1);
      assertThat(new HashSet<>(lines)).containsExactlyElementsIn(expected);
      assertThat(lines).hasSize(expected.size());
    }
  }

  private static void assertEveryLineOnceAndWhole(String output, int threads, int perThread) {
    assertThat(output).endsWith("\n");
    String[] lines = output.split("\n");
    assertThat(lines).hasLength(threads * perThread);
    int[] next = new int[threads];
    for (String written : lines) {
      int thread = Integer.parseInt(written.replaceAll("^\\{\"thread\":(\\d+),.*", "$1"));
      int n = next[thread]++;
      // A thread's lines come out in the order it handed them over.
      assertThat(written).isEqualTo(line(thread, n, 200 + (n % 7) * 50));
    }
    for (int count : next) {
      assertThat(count).isEqualTo(perThread);
    }
  }

  private static Future<byte[]> readAll(InputStream in) {
    ExecutorService reader = Executors.newSingleThreadExecutor();
    Future<byte[]> bytes =
        reader.submit(
            () -> {
              try (in) {
                return in.readAllBytes();
              }
            });
    reader.shutdown();
    return bytes;
  }

  static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
    Instant deadline = Instant.now().plus(DEADLINE);
    while (!condition.getAsBoolean()) {
      if (Instant.now().isAfter(deadline)) {
        throw new AssertionError("not within " + DEADLINE + ": " + what);
      }
      Thread.sleep(5); // the pause between two polls
    }
  }

  /** A {@link System#nanoTime} that moves only when a test moves it. */
  static final class FakeNanos {
    private long now = 1_000_000_000L;

    long now() {
      return now;
    }

    void advance(long nanos) {
      now += nanos;
    }
  }

  /** Passes writes through and keeps a copy of each write call's bytes. */
  static class RecordingStream extends FilterOutputStream {
    private final List<byte[]> writes = Collections.synchronizedList(new ArrayList<>());

    RecordingStream(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      writes.add(Arrays.copyOfRange(bytes, offset, offset + length));
      out.write(bytes, offset, length);
    }

    List<byte[]> writes() {
      return List.copyOf(writes);
    }
  }

  /**
   * A stream whose first write call waits until {@link #open()}: a write held up by a slow reader,
   * at a moment the test chooses.
   */
  static final class GatedStream extends RecordingStream {
    private final CountDownLatch blocked = new CountDownLatch(1);
    private final CountDownLatch opened = new CountDownLatch(1);
    private final ByteArrayOutputStream copy = new ByteArrayOutputStream();

    GatedStream(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      blocked.countDown();
      try {
        if (!opened.await(DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
          throw new IOException("the gate was never opened");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
      synchronized (copy) {
        copy.write(bytes, offset, length);
      }
      super.write(bytes, offset, length);
    }

    void awaitBlocked() throws InterruptedException {
      assertThat(blocked.await(DEADLINE.toSeconds(), TimeUnit.SECONDS)).isTrue();
    }

    void open() {
      opened.countDown();
    }

    String text() {
      synchronized (copy) {
        return copy.toString(StandardCharsets.UTF_8);
      }
    }
  }
}
