package dev.invokerguard.guard;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The child JVM of {@link GroupCommitWriterTest}'s shutdown test: a {@link GroupCommitWriter} on
 * the real stdout descriptor, flushed at shutdown as {@link DecisionLog#STDOUT} is. Its first write
 * is held (a stalled reader) until the JVM shuts down; meanwhile THREADS x LINES lines are handed
 * over and queued. It then reports "handed-over N" on stderr and waits for SIGTERM.
 *
 * <p>usage: GroupCommitShutdownChild THREADS LINES
 */
final class GroupCommitShutdownChild {
  private GroupCommitShutdownChild() {}

  public static void main(String[] args) throws Exception {
    int threads = Integer.parseInt(args[0]);
    int lines = Integer.parseInt(args[1]);
    GroupCommitWriterTest.GatedStream gated =
        new GroupCommitWriterTest.GatedStream(new FileOutputStream(FileDescriptor.out));
    GroupCommitWriter writer =
        new GroupCommitWriter(gated).flushedAtShutdown(DecisionLog.SHUTDOWN_FLUSH_TIMEOUT);
    // The stalled reader catches up once the JVM shuts down. Hooks run concurrently, in no set
    // order: this one lets the held write go; the writer's own hook must then wait for it and
    // write the queue, or the JVM halts with the queued lines unwritten.
    Runtime.getRuntime().addShutdownHook(new Thread(gated::open));

    Thread first = new Thread(() -> writer.accept(GroupCommitWriterTest.line(-1, 0, 300)));
    first.start();
    gated.awaitBlocked();
    List<Thread> producers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      Thread producer =
          new Thread(
              () -> {
                for (int n = 0; n < lines; n++) {
                  writer.accept(GroupCommitWriterTest.line(thread, n, 300));
                }
              });
      producer.start();
      producers.add(producer);
    }
    for (Thread producer : producers) {
      producer.join();
    }
    System.err.println("handed-over " + (1 + threads * lines));
    System.err.flush();
    first.join(); // held until SIGTERM
  }
}
