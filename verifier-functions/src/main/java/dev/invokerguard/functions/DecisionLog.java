package dev.invokerguard.functions;

import com.google.gson.stream.JsonWriter;
import dev.invokerguard.verifier.Reason;
import dev.invokerguard.verifier.VerifiedCaller;
import java.io.IOException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;

/**
 * Writes one JSON line per decision, in the structured shape Cloud Logging parses from stdout
 * ({@code severity}, {@code message}, {@code logging.googleapis.com/trace}, ...). What it writes
 * comes from the decision and the verified caller only: never the token, a signature, key material
 * or a header value other than the trace id.
 *
 * <p>A line is written on every request, so it is cheap on purpose: gson's streaming {@link
 * JsonWriter} (which does the escaping) into a plain buffer, no tree and no {@code Gson} instance
 * (building one loads and initialises about 130 classes on the cold-start path), and one write of
 * the line's bytes to the standard output descriptor (see {@link #STDOUT}).
 */
final class DecisionLog {
  static final String TRACE_FIELD = "logging.googleapis.com/trace";
  static final String SPAN_FIELD = "logging.googleapis.com/spanId";
  static final String SAMPLED_FIELD = "logging.googleapis.com/trace_sampled";
  private static final int MAX_PATH_CHARS = 256;

  /**
   * The production sink: {@link #writingTo} the process's standard output file descriptor
   * directly, as the platform's log collector reads it.
   *
   * <p>Not through {@code System.out}: its {@code PrintStream} takes a lock around a buffered,
   * flushed write, so under concurrent requests the threads queue on that lock for the length of a
   * system call. Measured through the real invoker on loopback, that queueing cost the protected
   * function about 8 % of its throughput; a plain {@code write(2)} per line from each thread has no
   * lock in Java, and the kernel keeps each line whole (a pipe write up to {@code PIPE_BUF}, 4 096
   * bytes, is atomic, and lines are far shorter: the path is capped at 256 characters and the
   * verifier's messages quote at most 80 characters of a value). The price: {@code
   * System.setOut} does not redirect these lines.
   */
  static final Consumer<String> STDOUT =
      writingTo(new FileOutputStream(FileDescriptor.out));

  /**
   * A sink that writes each line and its {@code \n}, encoded in UTF-8, to {@code out} in one
   * {@code write} call, so the line is handed over whole before the request is answered. A write
   * that fails is dropped, as {@code System.out} drops it: a closed standard output must not turn
   * a decision into an error.
   */
  static Consumer<String> writingTo(OutputStream out) {
    Objects.requireNonNull(out, "out");
    return line -> {
      byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
      try {
        out.write(bytes);
      } catch (IOException e) {
        // Nowhere left to report it; the decision itself stands.
      }
    };
  }

  private final Optional<String> project;
  private final Consumer<String> sink;

  /**
   * @param project the Google Cloud project for trace links, when known
   * @param sink receives each line, without a line terminator; {@link #STDOUT} in production
   */
  DecisionLog(Optional<String> project, Consumer<String> sink) {
    this.project = Objects.requireNonNull(project, "project");
    this.sink = Objects.requireNonNull(sink, "sink");
  }

  /** The request facts a line may carry: method, path without the query, trace. */
  record RequestFacts(String method, String path, Optional<TraceContext> trace) {}

  void allowed(RequestFacts request, VerifiedCaller caller) {
    Line line = line("INFO", "allowed " + caller.principal(), request, 200);
    line.field("decision", "allow");
    line.field("reason", "ALLOWED");
    if (caller.email().isPresent()) {
      line.field("caller", caller.email().get());
    }
    line.field("subject", caller.subject());
    line.field("audience", caller.audience());
    line.field("signatureCheck", caller.signatureCheck().name());
    sink.accept(line.end());
  }

  /**
   * A rejection. {@code detail} is the verifier's message, which by its contract holds no token or
   * key material; it helps an operator see what was expected.
   */
  void denied(RequestFacts request, Reason reason, int status, String detail) {
    boolean unavailable = reason.category() == Reason.Category.UNAVAILABLE;
    Line line =
        line(unavailable ? "ERROR" : "WARNING", "denied: " + reason.name(), request, status);
    line.field("decision", "deny");
    line.field("reason", reason.name());
    if (detail != null) {
      line.field("detail", detail);
    }
    sink.accept(line.end());
  }

  /**
   * Verification itself failed unexpectedly; the request was denied (fail closed). Only the
   * exception's class is written: its message could hold anything.
   */
  void verificationFailed(RequestFacts request, Class<?> exceptionClass, int status) {
    Line line =
        line(
            "ERROR",
            "denied: verification failed with " + exceptionClass.getName(),
            request,
            status);
    line.field("decision", "deny");
    line.field("reason", "VERIFICATION_ERROR");
    line.field("exception", exceptionClass.getName());
    sink.accept(line.end());
  }

  /**
   * The protected handler threw after the caller was allowed; not a decision, so no {@code
   * decision}.
   */
  void handlerFailed(RequestFacts request, VerifiedCaller caller, Class<?> exceptionClass) {
    Line line =
        line(
            "ERROR", "the protected handler failed with " + exceptionClass.getName(), request, 500);
    line.field("caller", caller.principal());
    line.field("exception", exceptionClass.getName());
    sink.accept(line.end());
  }

  /**
   * The start-up key fetch failed; requests get 503 until a later fetch succeeds. Only the
   * exception's class is written (unwrapped from the future's wrapper), with the key URL.
   */
  void keysNotLoadedAtStartup(URI jwksUri, Throwable failure) {
    Throwable cause =
        failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause()
            : failure;
    Line line = new Line();
    line.field("severity", "WARNING");
    line.field(
        "message",
        "signing keys could not be loaded at start-up from "
            + jwksUri
            + "; requests get 503 until a fetch succeeds");
    line.field("exception", cause.getClass().getName());
    sink.accept(line.end());
  }

  private Line line(String severity, String message, RequestFacts request, int status) {
    Line line = new Line();
    line.field("severity", severity);
    line.field("message", message);
    line.field("method", request.method());
    String path = request.path() == null ? "" : request.path();
    line.field(
        "path", path.length() > MAX_PATH_CHARS ? path.substring(0, MAX_PATH_CHARS) + "..." : path);
    line.field("status", status);
    if (project.isPresent() && request.trace().isPresent()) {
      TraceContext trace = request.trace().get();
      line.field(TRACE_FIELD, trace.resourceName(project.get()));
      if (trace.spanId() != null) {
        line.field(SPAN_FIELD, trace.spanId());
      }
      line.field(SAMPLED_FIELD, trace.sampled());
    }
    return line;
  }

  /**
   * One JSON object being written. gson's {@link JsonWriter} escapes quotes, backslashes and
   * control characters (and, with HTML-safe off, leaves {@code <} and {@code =} readable); a
   * field whose value is {@code null} is left out.
   */
  private static final class Line {
    private final StringBuilder text = new StringBuilder(384);
    private final JsonWriter json;

    Line() {
      json = new JsonWriter(new BuilderWriter(text));
      json.setHtmlSafe(false);
      json.setSerializeNulls(false); // a field without a value is left out, not written as null
      try {
        json.beginObject();
      } catch (IOException e) {
        throw new UncheckedIOException(e); // never: the target is a StringBuilder
      }
    }

    void field(String name, String value) {
      try {
        json.name(name).value(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    void field(String name, long value) {
      try {
        json.name(name).value(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    void field(String name, boolean value) {
      try {
        json.name(name).value(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    String end() {
      try {
        json.endObject();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return text.toString();
    }
  }

  /** A {@link Writer} onto a {@link StringBuilder}: {@code StringWriter} without its locking. */
  private static final class BuilderWriter extends Writer {
    private final StringBuilder text;

    BuilderWriter(StringBuilder text) {
      this.text = text;
    }

    @Override
    public void write(char[] chars, int offset, int length) {
      text.append(chars, offset, length);
    }

    @Override
    public void write(String string, int offset, int length) {
      text.append(string, offset, offset + length);
    }

    @Override
    public void write(int c) {
      text.append((char) c);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  }
}
