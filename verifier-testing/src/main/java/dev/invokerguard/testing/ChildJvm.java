package dev.invokerguard.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A Java program started as a child process, for tests and local runs that need a real server in
 * its own JVM (such as the Functions Framework invoker). It knows nothing of the program it runs:
 * give it a classpath, a main class, arguments and an environment.
 *
 * <p>The child's environment starts empty but for {@code PATH}, {@code HOME}, {@code TMPDIR} and
 * the locale, so that nothing from the parent's environment leaks into what a test configures. Its
 * stdout and stderr go to files ({@link #stdout()}, {@link #stderr()}) or, with {@link
 * Builder#inheritOutput()}, to the parent's. {@link #close()} stops it.
 */
public final class ChildJvm implements AutoCloseable {
  private static final List<String> INHERITED_VARIABLES =
      List.of("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL");
  private static final Duration POLL_INTERVAL = Duration.ofMillis(50);

  private final Process process;
  private final Path stdout;
  private final Path stderr;
  private final String description;

  private ChildJvm(Process process, Path stdout, Path stderr, String description) {
    this.process = process;
    this.stdout = stdout;
    this.stderr = stderr;
    this.description = description;
  }

  /** Starts describing a child JVM that runs {@code mainClass}. */
  public static Builder builder(String mainClass) {
    return new Builder(mainClass);
  }

  /** The main class of the Functions Framework invoker (java-function-invoker). */
  public static final String FUNCTIONS_INVOKER_MAIN =
      "com.google.cloud.functions.invoker.runner.Invoker";

  /**
   * Starts describing a child JVM that runs the Functions Framework invoker serving {@code
   * functionTarget} on {@code port}; the invoker must be on the {@link Builder#classpath}.
   */
  public static Builder functionsInvoker(String functionTarget, int port) {
    return builder(FUNCTIONS_INVOKER_MAIN)
        .args("--target", functionTarget, "--port", Integer.toString(port));
  }

  /** A TCP port that was free on the loopback address a moment ago. */
  public static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The classpath of this JVM, to give a child the same classes. */
  public static String currentClasspath() {
    return System.getProperty("java.class.path");
  }

  /**
   * Waits until something accepts connections on {@code 127.0.0.1:port}, polling until {@code
   * timeout}.
   *
   * @throws IllegalStateException if the child exits first or the deadline passes; the message
   *     holds the end of the child's output
   */
  public ChildJvm awaitPort(int port, Duration timeout) {
    Instant deadline = Instant.now().plus(timeout);
    while (true) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            description
                + " exited with "
                + process.exitValue()
                + " before listening on port "
                + port
                + "\n"
                + tail());
      }
      try (Socket socket = new Socket()) {
        socket.connect(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), port),
            (int) POLL_INTERVAL.toMillis());
        return this;
      } catch (IOException notYet) {
        // not listening yet
      }
      if (Instant.now().isAfter(deadline)) {
        throw new IllegalStateException(
            description + " did not listen on port " + port + " within " + timeout + "\n" + tail());
      }
      waitForExit(POLL_INTERVAL); // the pause between polls, cut short if the child exits
    }
  }

  /**
   * Waits for the child to exit.
   *
   * @return its exit code
   * @throws IllegalStateException if it is still running after {@code timeout}
   */
  public int awaitExit(Duration timeout) {
    if (!waitForExit(timeout)) {
      throw new IllegalStateException(
          description + " still running after " + timeout + "\n" + tail());
    }
    return process.exitValue();
  }

  /**
   * Waits up to {@code timeout} for the child to exit; also the pause between two polls of some
   * other state, cut short if the child dies.
   *
   * @return whether the child has exited
   */
  public boolean exitedWithin(Duration timeout) {
    return waitForExit(timeout);
  }

  /** Whether the child is still running. */
  public boolean isAlive() {
    return process.isAlive();
  }

  /** Everything the child wrote to stdout so far (empty with inherited output). */
  public String stdout() {
    return read(stdout);
  }

  /** Everything the child wrote to stderr so far (empty with inherited output). */
  public String stderr() {
    return read(stderr);
  }

  /** The process, e.g. for its pid. */
  public Process process() {
    return process;
  }

  /** Stops the child (and any process it started): politely, then forcibly after 5 seconds. */
  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroy);
    process.destroy();
    if (!waitForExit(Duration.ofSeconds(5))) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      waitForExit(Duration.ofSeconds(5));
    }
  }

  private boolean waitForExit(Duration timeout) {
    try {
      process.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return !process.isAlive();
    } catch (ExecutionException e) {
      throw new IllegalStateException(e);
    }
  }

  private String tail() {
    String out = "--- stdout ---\n" + stdout() + "\n--- stderr ---\n" + stderr();
    return out.length() > 4000 ? "..." + out.substring(out.length() - 4000) : out;
  }

  private static String read(Path file) {
    if (file == null) {
      return "";
    }
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Describes a child JVM; {@link #start()} starts it. */
  public static final class Builder {
    private final String mainClass;
    private String classpath = currentClasspath();
    private final List<String> jvmOptions =
        new ArrayList<>(List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
    private final List<String> args = new ArrayList<>();
    private final Map<String, String> environment = new LinkedHashMap<>();
    private boolean inheritOutput;
    private boolean pipeStdout;

    private Builder(String mainClass) {
      this.mainClass = Objects.requireNonNull(mainClass, "mainClass");
    }

    /** The child's classpath (default: this JVM's, {@link #currentClasspath()}). */
    public Builder classpath(String classpath) {
      this.classpath = Objects.requireNonNull(classpath, "classpath");
      return this;
    }

    /** Adds JVM options (defaults: a 256 MiB heap and quick start-up flags). */
    public Builder jvmOptions(String... options) {
      jvmOptions.addAll(List.of(options));
      return this;
    }

    /** Adds program arguments. */
    public Builder args(String... args) {
      this.args.addAll(List.of(args));
      return this;
    }

    /** Sets an environment variable of the child. */
    public Builder env(String name, String value) {
      environment.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, name));
      return this;
    }

    /** Sets environment variables of the child. */
    public Builder env(Map<String, String> variables) {
      variables.forEach(this::env);
      return this;
    }

    /** Sends the child's output to this process's stdout and stderr instead of files. */
    public Builder inheritOutput() {
      this.inheritOutput = true;
      return this;
    }

    /**
     * Leaves the child's stdout a pipe that the test reads from {@code process().getInputStream()}
     * (as a platform's log collector reads a function's stdout), instead of a file; {@link
     * ChildJvm#stdout()} is then empty. Read it while the child runs: a full pipe blocks the
     * child's writes.
     */
    public Builder pipeStdout() {
      this.pipeStdout = true;
      return this;
    }

    /** Starts the child. */
    public ChildJvm start() {
      List<String> command = new ArrayList<>();
      command.add(javaExecutable());
      command.addAll(jvmOptions);
      command.add("-cp");
      command.add(classpath);
      command.add(mainClass);
      command.addAll(args);
      ProcessBuilder builder = new ProcessBuilder(command);
      Map<String, String> env = builder.environment();
      Map<String, String> parent = Map.copyOf(env);
      env.clear();
      for (String name : INHERITED_VARIABLES) {
        Optional.ofNullable(parent.get(name)).ifPresent(value -> env.put(name, value));
      }
      env.putAll(environment);
      builder.redirectInput(ProcessBuilder.Redirect.PIPE);
      try {
        Path out = null;
        Path err = null;
        if (inheritOutput) {
          builder.redirectOutput(ProcessBuilder.Redirect.INHERIT);
          builder.redirectError(ProcessBuilder.Redirect.INHERIT);
        } else {
          String prefix = mainClass.substring(mainClass.lastIndexOf('.') + 1);
          err = Files.createTempFile(prefix, ".stderr");
          err.toFile().deleteOnExit();
          builder.redirectError(err.toFile());
          if (pipeStdout) {
            builder.redirectOutput(ProcessBuilder.Redirect.PIPE);
          } else {
            out = Files.createTempFile(prefix, ".stdout");
            out.toFile().deleteOnExit();
            builder.redirectOutput(out.toFile());
          }
        }
        Process process = builder.start();
        process.getOutputStream().close(); // the child reads no input
        return new ChildJvm(process, out, err, mainClass + " (pid " + process.pid() + ")");
      } catch (IOException e) {
        throw new UncheckedIOException("could not start " + mainClass, e);
      }
    }

    private static String javaExecutable() {
      return ProcessHandle.current()
          .info()
          .command()
          .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }
  }
}
