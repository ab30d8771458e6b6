package dev.invokerguard.guard;

import com.google.gson.stream.JsonWriter;
import dev.invokerguard.verifier.KeyHealth;
import dev.invokerguard.verifier.KeyHealthEvent;
import dev.invokerguard.verifier.Reason;
import dev.invokerguard.verifier.TokenSource;
import dev.invokerguard.verifier.VerifiedCaller;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Writes one JSON line per decision, in the structured shape Cloud Logging parses from stdout
 * ({@code severity}, {@code message}, {@code logging.googleapis.com/trace}, ...). What it writes
 * comes from the decision and the verified caller only: never the token, a signature, key material
 * or a header value other than the trace id.
 *
 * <p>A line is written on every request, so it is cheap on purpose: gson's streaming {@link
 * JsonWriter} (which does the escaping) into a plain buffer, no tree and no {@code Gson} instance
 * (building one loads and initialises many classes on the cold-start path; docs/DESIGN.md), handed
 * to the standard output descriptor (see {@link #STDOUT}) by a group commit that lets concurrent
 * requests share write calls ({@link GroupCommitWriter}).
 */
final class DecisionLog {
  static final String TRACE_FIELD = "logging.googleapis.com/trace";
  static final String SPAN_FIELD = "logging.googleapis.com/spanId";
  static final String SAMPLED_FIELD = "logging.googleapis.com/trace_sampled";
  private static final int MAX_PATH_CHARS = 256;
  // Longer than any method in IANA's HTTP Method Registry (the longest, UPDATEREDIRECTREF, has 17
  // characters): the
  // method is the client's text and, uncapped, could carry a line past the 4 096-byte atomic write.
  static final int MAX_METHOD_CHARS = 24;

  /**
   * How long the shutdown hook waits for a write under way before it gives up: half the time Cloud
   * Run leaves between SIGTERM and SIGKILL (10 s, cloud.google.com/run/docs/container-contract,
   * #lifecycle). Declared before {@link #STDOUT}, which reads it.
   */
  static final Duration SHUTDOWN_FLUSH_TIMEOUT = Duration.ofSeconds(5);

  /**
   * The production sink: {@link #writingTo} the process's standard output file descriptor directly,
   * as the platform's log collector reads it, with a shutdown hook that writes what is still queued
   * (waiting up to {@link #SHUTDOWN_FLUSH_TIMEOUT} for a write under way).
   *
   * <p>Not through {@code System.out}: its {@code PrintStream} takes a lock around a buffered,
   * flushed write, so under concurrent requests the threads queue on that lock for the length of a
   * system call, which measurably cost the protected function throughput (docs/DESIGN.md,
   * BENCHMARKS.md). The price: {@code System.setOut} does not redirect these lines.
   */
  static final Consumer<String> STDOUT =
      new GroupCommitWriter(new FileOutputStream(FileDescriptor.out))
          .flushedAtShutdown(SHUTDOWN_FLUSH_TIMEOUT);

  /**
   * A sink that writes each line and its {@code \n}, encoded in UTF-8, to {@code out} with a group
   * commit ({@link GroupCommitWriter}): the lines of concurrent requests share {@code write} calls
   * of whole lines, at most 4 096 bytes each (the atomic write to a pipe), and a line is written
   * before the last request in flight is answered. A write that fails is dropped, as {@code
   * System.out} drops it: a closed standard output must not turn a decision into an error.
   */
  static Consumer<String> writingTo(OutputStream out) {
    return new GroupCommitWriter(out);
  }

  /** Slots of the caller-part cache: more than the distinct callers a function usually has. */
  private static final int CALLER_PART_SLOTS = 16;

  private final Optional<String> project;
  private final Consumer<String> sink;
  // Direct-mapped by the caller's identity; read and written without a lock. A CallerPart is
  // immutable (final fields), so a thread sees either null, an old part or a whole new one; a
  // lost or stale slot only costs one rebuild.
  private final CallerPart[] callerParts = new CallerPart[CALLER_PART_SLOTS];

  /**
   * @param project the Google Cloud project for trace links, when known
   * @param sink receives each line, without a line terminator; {@link #STDOUT} in production
   */
  DecisionLog(Optional<String> project, Consumer<String> sink) {
    this.project = Objects.requireNonNull(project, "project");
    this.sink = Objects.requireNonNull(sink, "sink");
  }

  /**
   * A request begins: its lines may wait for the other requests in flight and share their write
   * ({@link GroupCommitWriter#enter}). Each call is paired with one {@link #requestEnded}.
   */
  void requestStarted() {
    if (sink instanceof GroupCommitWriter writer) {
      writer.enter();
    }
  }

  /** A request ends; the last one in flight writes the lines still waiting. */
  void requestEnded() {
    if (sink instanceof GroupCommitWriter writer) {
      writer.leave();
    }
  }

  private void requestLine(String line) {
    if (sink instanceof GroupCommitWriter writer) {
      writer.acceptInRequest(line);
    } else {
      sink.accept(line);
    }
  }

  /** The request facts a line may carry: method, path without the query, trace. */
  record RequestFacts(String method, String path, Optional<TraceContext> trace) {}

  /**
   * An allowed request. The fields that depend on the caller alone are written once per caller and
   * reused: the verifier hands out the same {@link VerifiedCaller} for every request that reuses a
   * token, and this line is written on every allowed request.
   */
  void allowed(RequestFacts request, VerifiedCaller caller) {
    int slot = System.identityHashCode(caller) & (CALLER_PART_SLOTS - 1);
    CallerPart part = callerParts[slot];
    if (part == null || part.caller() != caller) {
      part = new CallerPart(caller, allowedCallerFields(caller));
      callerParts[slot] = part;
    }
    requestLine(line("INFO", request, 200).endWith(part.fields()));
  }

  /** A caller and the end of its "allowed" lines, as {@link Line#endWith} takes it. */
  private record CallerPart(VerifiedCaller caller, String fields) {}

  private static String allowedCallerFields(VerifiedCaller caller) {
    Line fields = new Line();
    fields.field("message", "allowed " + caller.principal());
    fields.field("decision", "allow");
    fields.field("reason", "ALLOWED");
    if (caller.email().isPresent()) {
      fields.field("caller", caller.email().get());
    }
    fields.field("subject", caller.subject());
    fields.field("audience", caller.audience());
    fields.field("signatureCheck", caller.signatureCheck().name());
    tokenSource(fields, caller.tokenSource());
    String object = fields.end();
    return object.substring(1); // without the '{': the fields and the closing '}'
  }

  /**
   * A rejection. {@code detail} is the verifier's message, which by its contract holds no token or
   * key material; it helps an operator see what was expected.
   */
  void denied(RequestFacts request, Reason reason, int status, String detail) {
    denied(request, reason, status, detail, Optional.empty(), Optional.empty(), Optional.empty());
  }

  /**
   * A rejection, naming the caller when the verifier vouches for it: {@code caller} (the verified
   * email) and {@code subject}, as on an allowed line. The verifier gives them only when the
   * signature and claims verified and the allowlist alone said no ({@link
   * dev.invokerguard.verifier.CallerRejectedException#verifiedSubject()}); nothing from a token
   * that did not verify reaches a line.
   */
  void denied(
      RequestFacts request,
      Reason reason,
      int status,
      String detail,
      Optional<String> verifiedSubject,
      Optional<String> verifiedEmail,
      Optional<TokenSource> tokenSource) {
    boolean unavailable = reason.category() == Reason.Category.UNAVAILABLE;
    Line line = line(unavailable ? "ERROR" : "WARNING", request, status);
    line.field("message", "denied: " + reason.name());
    line.field("decision", "deny");
    line.field("reason", reason.name());
    if (detail != null) {
      line.field("detail", detail);
    }
    if (verifiedEmail.isPresent()) {
      line.field("caller", verifiedEmail.get());
    }
    if (verifiedSubject.isPresent()) {
      line.field("subject", verifiedSubject.get());
    }
    tokenSource(line, tokenSource);
    requestLine(line.end());
  }

  /**
   * Verification itself failed unexpectedly; the request was denied (fail closed). Only the
   * exception's class is written: its message could hold anything.
   */
  void verificationFailed(RequestFacts request, Class<?> exceptionClass, int status) {
    Line line = line("ERROR", request, status);
    line.field("message", "denied: verification failed with " + exceptionClass.getName());
    line.field("decision", "deny");
    line.field("reason", "VERIFICATION_ERROR");
    line.field("exception", exceptionClass.getName());
    requestLine(line.end());
  }

  /**
   * The protected handler threw after the caller was allowed; not a decision, so no {@code
   * decision}.
   */
  void handlerFailed(RequestFacts request, VerifiedCaller caller, Class<?> exceptionClass) {
    Line line = line("ERROR", request, 500);
    line.field("message", "the protected handler failed with " + exceptionClass.getName());
    line.field("caller", caller.principal());
    line.field("exception", exceptionClass.getName());
    requestLine(line.end());
  }

  /**
   * A state change of the signing keys (docs/FUNCTION.md, "Key health lines"): one line per change,
   * never per request, in the shape the Cloud Monitoring filters rely on ({@code keyHealth}, {@code
   * severity}, ...). Facts about the key set and the fetch only: never a body, a key or a token. No
   * request fields: the change is not a request's.
   */
  void keyHealth(KeyHealthEvent event) {
    KeyHealth health = event.health();
    Line line = new Line();
    line.field("severity", severity(health));
    line.field("message", event.message());
    line.field("keyHealth", health.name());
    line.field("jwksUri", event.jwksUri().toString());
    if (health != KeyHealth.UNUSABLE && event.keyCount() > 0) {
      line.field("keyCount", event.keyCount());
    }
    if (event.keyAge().isPresent()) {
      line.field("keyAgeSeconds", event.keyAge().get().toSeconds());
    }
    line.field("usableForSeconds", event.usableFor().toSeconds());
    if (event.fetchOutcome().isPresent()) {
      line.field("fetchOutcome", event.fetchOutcome().get().name());
    }
    if (event.exceptionClass().isPresent()) {
      line.field("exception", event.exceptionClass().get());
    }
    if (health == KeyHealth.RECOVERED) {
      line.field("failedFetches", event.failedFetches());
      line.field("outageSeconds", event.outage().map(d -> d.toSeconds()).orElse(0L));
    }
    sink.accept(line.end());
  }

  /**
   * Which header the judged token came from and whether each came stripped (docs/FUNCTION.md,
   * "Which header"): names and fixed words only, never a token.
   */
  private static void tokenSource(Line line, Optional<TokenSource> source) {
    if (source.isPresent()) {
      line.field(TokenSource.HEADER_FIELD, source.get().header());
      line.field(TokenSource.SIGNATURE_FIELD, source.get().signature());
      line.field(TokenSource.SERVERLESS_HEADER_FIELD, source.get().serverlessHeader());
    }
  }

  /** The Cloud Logging severity of a key health line. */
  static String severity(KeyHealth health) {
    return switch (health) {
      case LOADED, RECOVERED -> "INFO";
      case FETCH_FAILED, STALE_IN_USE -> "WARNING";
      case UNUSABLE -> "ERROR";
    };
  }

  /** A line's first fields: the severity and the request's; the caller adds the message. */
  private Line line(String severity, RequestFacts request, int status) {
    Line line = new Line();
    line.field("severity", severity);
    line.field("method", cut(request.method(), MAX_METHOD_CHARS));
    line.field("path", cut(request.path() == null ? "" : request.path(), MAX_PATH_CHARS));
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
   * {@code value} cut to {@code max} characters and marked with "..." when it was longer; never
   * between the two halves of a surrogate pair, which would leave half a character for UTF-8 to
   * turn into '?'.
   */
  static String cut(String value, int max) {
    if (value == null || value.length() <= max) {
      return value;
    }
    int end = Character.isHighSurrogate(value.charAt(max - 1)) ? max - 1 : max;
    return value.substring(0, end) + "...";
  }

  /**
   * One JSON object being written. gson's {@link JsonWriter} escapes quotes, backslashes and
   * control characters (and, with HTML-safe off, leaves {@code <} and {@code =} readable); a field
   * whose value is {@code null} is left out.
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

    /**
     * Ends the object with {@code fields}: JSON fields already escaped by a {@code Line}, followed
     * by the closing brace, as {@code Line.end().substring(1)} gives them. Appended past the {@link
     * JsonWriter}, which has already written every field given to it (it buffers nothing but a name
     * awaiting its value, and none is awaiting here).
     */
    String endWith(String fields) {
      return text.append(',').append(fields).toString();
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
