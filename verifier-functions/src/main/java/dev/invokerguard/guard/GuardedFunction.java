package dev.invokerguard.guard;

import com.google.cloud.functions.HttpFunction;
import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import dev.invokerguard.verifier.CallerRejectedException;
import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.KeyHealthListener;
import dev.invokerguard.verifier.Reason;
import dev.invokerguard.verifier.TokenSource;
import dev.invokerguard.verifier.VerifiedCaller;
import dev.invokerguard.verifier.VerifierStats;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * An {@link HttpFunction} that lets a request reach its {@link ProtectedHandler} only when the
 * caller's Google ID token verifies and the caller is allowlisted. The answer to a rejection is
 * derived from {@link Reason#category()} alone:
 *
 * <table>
 *   <caption>HTTP contract</caption>
 *   <tr><th>category</th><th>status</th><th>headers</th><th>body</th></tr>
 *   <tr><td>{@code NO_CREDENTIALS}</td><td>401</td><td>{@code WWW-Authenticate: Bearer}</td>
 *       <td>{@code {"error":"unauthorized"}}</td></tr>
 *   <tr><td>{@code INVALID_TOKEN}</td><td>401</td><td>{@code WWW-Authenticate: Bearer
 *       error="invalid_token"}</td><td>{@code {"error":"invalid_token"}}</td></tr>
 *   <tr><td>{@code FORBIDDEN}</td><td>403</td><td></td><td>{@code {"error":"forbidden"}}</td></tr>
 *   <tr><td>{@code UNAVAILABLE}</td><td>503</td><td>{@code Retry-After}</td>
 *       <td>{@code {"error":"unavailable"}}</td></tr>
 * </table>
 *
 * <p>(RFC 6750 section 3 for the 401 challenges and their error code; RFC 9110 section 10.2.3 for
 * {@code Retry-After}.) A body never says which check failed or who is allowed; once a token was
 * read from a header it adds where from, {@code "tokenHeader"}, {@code "tokenSignature"} and {@code
 * "serverlessHeader"} ({@link dev.invokerguard.verifier.TokenSource}; docs/FUNCTION.md, "Which
 * header"), and so does the decision line. An unexpected exception while verifying fails closed
 * with the 503; an exception from the handler is a 500 {@code {"error":"internal"}}. Neither puts a
 * stack trace in a response. Every decision is logged as one JSON line on stdout (see {@code
 * docs/FUNCTION.md}), and so is every state change of the signing keys (loaded, fetch failed, stale
 * in use, unusable, recovered) when the verifier was built here or with {@link #keyHealthLines()}.
 * {@link #stats()} gives the verifier's counters.
 *
 * <p>Typical use, in a function's class:
 *
 * <pre>{@code
 * public final class MyFunction implements HttpFunction {
 *   private final HttpFunction guarded = GuardedFunction.fromEnvironment(this::handle);
 *
 *   public void service(HttpRequest request, HttpResponse response) throws Exception {
 *     guarded.service(request, response);
 *   }
 *
 *   private void handle(VerifiedCaller caller, HttpRequest request, HttpResponse response)
 *       throws IOException {
 *     response.getWriter().write("hello " + caller.principal());
 *   }
 * }
 * }</pre>
 */
public final class GuardedFunction implements HttpFunction {
  static final String JSON = "application/json";

  /** The verification step; {@link CallerVerifier#verify} in production. */
  @FunctionalInterface
  interface Verification {
    VerifiedCaller verify(Map<String, ? extends List<String>> headers)
        throws CallerRejectedException;
  }

  private final Verification verification;
  private final ProtectedHandler handler;
  private final DecisionLog log;
  private final long retryAfterSeconds;
  private final Optional<Supplier<VerifierStats>> stats;

  /** Without counters: for tests that verify with a stand-in. */
  GuardedFunction(
      Verification verification, ProtectedHandler handler, DecisionLog log, Duration retryAfter) {
    this(verification, handler, log, retryAfter, Optional.empty());
  }

  private GuardedFunction(
      Verification verification,
      ProtectedHandler handler,
      DecisionLog log,
      Duration retryAfter,
      Optional<Supplier<VerifierStats>> stats) {
    this.verification = Objects.requireNonNull(verification, "verification");
    this.handler = Objects.requireNonNull(handler, "handler");
    this.log = Objects.requireNonNull(log, "log");
    this.retryAfterSeconds = Math.max(1, retryAfter.toSeconds());
    this.stats = Objects.requireNonNull(stats, "stats");
  }

  /**
   * A {@link KeyHealthListener} that writes each key state change as one JSON line on stdout, in
   * the shape of the decision lines (docs/FUNCTION.md, "Key health lines"). {@link
   * #fromEnvironment} and {@link #protect(GuardConfig, ProtectedHandler)} set it themselves; pass
   * it to {@link CallerVerifier.Builder#keyHealthListener} when you build your own verifier for
   * {@link #protect(CallerVerifier, ProtectedHandler)}.
   */
  public static KeyHealthListener keyHealthLines() {
    return new DecisionLog(Optional.empty(), DecisionLog.STDOUT)::keyHealth;
  }

  /**
   * The verifier's counters ({@link CallerVerifier#stats()}): decisions by reason, token cache hits
   * and misses, key fetches by outcome, the key set's age. See docs/FUNCTION.md, "Counters", for an
   * export example.
   */
  public VerifierStats stats() {
    return stats
        .orElseThrow(() -> new IllegalStateException("this guard was built without a verifier"))
        .get();
  }

  /**
   * Protects {@code handler} with {@code verifier}. Decision logs go to stdout, with trace links
   * when {@code GOOGLE_CLOUD_PROJECT} or {@code GCP_PROJECT} names the project. A 503 carries
   * {@code Retry-After} of the verifier's own {@link CallerVerifier#keyRefetchInterval()}.
   */
  public static GuardedFunction protect(CallerVerifier verifier, ProtectedHandler handler) {
    Objects.requireNonNull(verifier, "verifier");
    return new GuardedFunction(
        verifier::verify,
        handler,
        new DecisionLog(GuardConfig.project(System.getenv()), DecisionLog.STDOUT),
        // The verifier's own interval: no key fetch comes sooner.
        verifier.keyRefetchInterval(),
        Optional.of(verifier::stats));
  }

  /**
   * Protects {@code handler} as {@code config} says: builds the verifier and starts fetching the
   * signing keys in the background, so that start-up does not wait for them and the first request
   * usually finds them loaded.
   */
  public static GuardedFunction protect(GuardConfig config, ProtectedHandler handler) {
    return protect(config, handler, new DecisionLog(config.project(), DecisionLog.STDOUT));
  }

  static GuardedFunction protect(GuardConfig config, ProtectedHandler handler, DecisionLog log) {
    CallerVerifier verifier = config.newVerifier(log::keyHealth);
    // Not joined: a slow key endpoint must not hold up start-up. A failure is reported by the key
    // cache as one UNUSABLE key health line, so that an operator sees why the first requests get
    // 503; the key cache keeps retrying, and a success is one RECOVERED line.
    verifier.prefetchKeys();
    return new GuardedFunction(
        verifier::verify, handler, log, config.keyRefetchInterval(), Optional.of(verifier::stats));
  }

  /**
   * Protects {@code handler} as the environment says ({@link GuardConfig}). Call it from the
   * function's constructor, so that a bad configuration stops the function at start-up: the invoker
   * then never serves a request.
   *
   * @throws InvalidConfigurationException naming the variable at fault; its message is also printed
   *     as one line on stderr
   */
  public static GuardedFunction fromEnvironment(ProtectedHandler handler) {
    GuardConfig config;
    try {
      config = GuardConfig.fromEnvironment(System.getenv());
    } catch (InvalidConfigurationException e) {
      System.err.println("invoker-guard: invalid configuration: " + e.getMessage());
      throw e;
    }
    return protect(config, handler);
  }

  @Override
  public void service(HttpRequest request, HttpResponse response) throws IOException {
    // The whole request, the handler included, is in flight: while it is, other requests' lines
    // may wait for one shared write (docs/DESIGN.md, "Decision log writes").
    log.requestStarted();
    try {
      guard(request, response);
    } finally {
      log.requestEnded();
    }
  }

  private void guard(HttpRequest request, HttpResponse response) throws IOException {
    Map<String, List<String>> headers = request.getHeaders();
    DecisionLog.RequestFacts facts =
        new DecisionLog.RequestFacts(
            request.getMethod(), request.getPath(), TraceContext.of(headers));
    VerifiedCaller caller;
    try {
      caller = verification.verify(headers);
    } catch (CallerRejectedException e) {
      // Handed over before answering: written by then when the request is alone, else by the time
      // the last request in flight returns (GroupCommitWriter).
      log.denied(
          facts,
          e.reason(),
          status(e.reason().category()),
          e.getMessage(),
          e.verifiedSubject(),
          e.verifiedEmail(),
          e.tokenSource());
      reject(response, e.reason().category(), e.tokenSource());
      return;
    } catch (RuntimeException e) {
      // A bug or an unforeseen input in verification: fail closed, as if keys were unavailable.
      log.verificationFailed(facts, e.getClass(), status(Reason.Category.UNAVAILABLE));
      reject(response, Reason.Category.UNAVAILABLE, Optional.empty());
      return;
    }
    log.allowed(facts, caller);
    try {
      handler.service(caller, request, response);
    } catch (Exception e) {
      log.handlerFailed(facts, caller, e.getClass());
      try {
        writeError(response, 500, "internal");
      } catch (IOException | RuntimeException ignored) {
        // The handler already committed or wrote the response; nothing more can be said safely.
      }
    }
  }

  /** The status that answers a rejection of {@code category}: one category, one status. */
  static int status(Reason.Category category) {
    return switch (category) {
      case NO_CREDENTIALS, INVALID_TOKEN -> 401;
      case FORBIDDEN -> 403;
      case UNAVAILABLE -> 503;
    };
  }

  /**
   * Answers a rejection of {@code category}, saying which header the judged token came from when
   * there was one (docs/FUNCTION.md, "Which header").
   */
  private void reject(HttpResponse response, Reason.Category category, Optional<TokenSource> source)
      throws IOException {
    String members = source.map(TokenSource::jsonMembers).orElse(null);
    switch (category) {
      case NO_CREDENTIALS -> {
        // RFC 6750 section 3.1: no error code when the request carried no usable credentials.
        response.appendHeader("WWW-Authenticate", "Bearer");
        writeError(response, status(category), "unauthorized", members);
      }
      case INVALID_TOKEN -> {
        response.appendHeader("WWW-Authenticate", "Bearer error=\"invalid_token\"");
        writeError(response, status(category), "invalid_token", members);
      }
      case FORBIDDEN -> writeError(response, status(category), "forbidden", members);
      case UNAVAILABLE -> {
        // Keys will not be fetched again sooner than the refetch interval: retrying earlier is
        // pointless (RFC 9110 section 10.2.3).
        response.appendHeader("Retry-After", Long.toString(retryAfterSeconds));
        writeError(response, status(category), "unavailable", members);
      }
    }
  }

  private static void writeError(HttpResponse response, int status, String error)
      throws IOException {
    writeError(response, status, error, null);
  }

  /**
   * @param members more JSON members for the body ({@link TokenSource#jsonMembers()}), or {@code
   *     null}
   */
  private static void writeError(HttpResponse response, int status, String error, String members)
      throws IOException {
    response.setStatusCode(status);
    response.setContentType(JSON);
    response.appendHeader("Cache-Control", "no-store");
    // The codes and members are fixed identifiers (letters, '_', '-'): nothing needs escaping.
    String body =
        members == null
            ? "{\"error\":\"" + error + "\"}"
            : "{\"error\":\"" + error + "\"," + members + "}";
    try (OutputStream out = response.getOutputStream()) {
      out.write(body.getBytes(StandardCharsets.UTF_8));
    }
  }
}
