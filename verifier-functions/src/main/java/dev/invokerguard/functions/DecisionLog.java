package dev.invokerguard.functions;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.invokerguard.verifier.Reason;
import dev.invokerguard.verifier.VerifiedCaller;
import java.net.URI;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;

/**
 * Writes one JSON line per decision, in the structured shape Cloud Logging parses from stdout
 * ({@code severity}, {@code message}, {@code logging.googleapis.com/trace}, ...). What it writes
 * comes from the decision and the verified caller only: never the token, a signature, key material
 * or a header value other than the trace id.
 */
final class DecisionLog {
  static final String TRACE_FIELD = "logging.googleapis.com/trace";
  static final String SPAN_FIELD = "logging.googleapis.com/spanId";
  static final String SAMPLED_FIELD = "logging.googleapis.com/trace_sampled";
  private static final int MAX_PATH_CHARS = 256;

  // disableHtmlEscaping: log lines are read by people; Gson still escapes quotes and controls.
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  private final Optional<String> project;
  private final Consumer<String> sink;

  /**
   * @param project the Google Cloud project for trace links, when known
   * @param sink receives each line; {@code System.out::println} in production
   */
  DecisionLog(Optional<String> project, Consumer<String> sink) {
    this.project = Objects.requireNonNull(project, "project");
    this.sink = Objects.requireNonNull(sink, "sink");
  }

  /** The request facts a line may carry: method, path without the query, trace. */
  record RequestFacts(String method, String path, Optional<TraceContext> trace) {}

  void allowed(RequestFacts request, VerifiedCaller caller) {
    JsonObject line = line("INFO", "allowed " + caller.principal(), request, 200);
    line.addProperty("decision", "allow");
    line.addProperty("reason", "ALLOWED");
    caller.email().ifPresent(email -> line.addProperty("caller", email));
    line.addProperty("subject", caller.subject());
    line.addProperty("audience", caller.audience());
    line.addProperty("signatureCheck", caller.signatureCheck().name());
    sink.accept(GSON.toJson(line));
  }

  /**
   * A rejection. {@code detail} is the verifier's message, which by its contract holds no token or
   * key material; it helps an operator see what was expected.
   */
  void denied(RequestFacts request, Reason reason, int status, String detail) {
    boolean unavailable = reason.category() == Reason.Category.UNAVAILABLE;
    JsonObject line =
        line(unavailable ? "ERROR" : "WARNING", "denied: " + reason.name(), request, status);
    line.addProperty("decision", "deny");
    line.addProperty("reason", reason.name());
    if (detail != null) {
      line.addProperty("detail", detail);
    }
    sink.accept(GSON.toJson(line));
  }

  /**
   * Verification itself failed unexpectedly; the request was denied (fail closed). Only the
   * exception's class is written: its message could hold anything.
   */
  void verificationFailed(RequestFacts request, Class<?> exceptionClass, int status) {
    JsonObject line =
        line(
            "ERROR",
            "denied: verification failed with " + exceptionClass.getName(),
            request,
            status);
    line.addProperty("decision", "deny");
    line.addProperty("reason", "VERIFICATION_ERROR");
    line.addProperty("exception", exceptionClass.getName());
    sink.accept(GSON.toJson(line));
  }

  /**
   * The protected handler threw after the caller was allowed; not a decision, so no {@code
   * decision}.
   */
  void handlerFailed(RequestFacts request, VerifiedCaller caller, Class<?> exceptionClass) {
    JsonObject line =
        line(
            "ERROR", "the protected handler failed with " + exceptionClass.getName(), request, 500);
    line.addProperty("caller", caller.principal());
    line.addProperty("exception", exceptionClass.getName());
    sink.accept(GSON.toJson(line));
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
    JsonObject line = new JsonObject();
    line.addProperty("severity", "WARNING");
    line.addProperty(
        "message",
        "signing keys could not be loaded at start-up from "
            + jwksUri
            + "; requests get 503 until a fetch succeeds");
    line.addProperty("exception", cause.getClass().getName());
    sink.accept(GSON.toJson(line));
  }

  private JsonObject line(String severity, String message, RequestFacts request, int status) {
    JsonObject line = new JsonObject();
    line.addProperty("severity", severity);
    line.addProperty("message", message);
    line.addProperty("method", request.method());
    String path = request.path() == null ? "" : request.path();
    line.addProperty(
        "path", path.length() > MAX_PATH_CHARS ? path.substring(0, MAX_PATH_CHARS) + "..." : path);
    line.addProperty("status", status);
    if (project.isPresent() && request.trace().isPresent()) {
      TraceContext trace = request.trace().get();
      line.addProperty(TRACE_FIELD, trace.resourceName(project.get()));
      if (trace.spanId() != null) {
        line.addProperty(SPAN_FIELD, trace.spanId());
      }
      line.addProperty(SAMPLED_FIELD, trace.sampled());
    }
    return line;
  }
}
