package dev.invokerguard.function;

import com.google.cloud.functions.HttpFunction;
import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import dev.invokerguard.guard.GuardedFunction;
import dev.invokerguard.verifier.CallerVerifier;
import java.time.Clock;

/**
 * The host team's internal API as an HTTP Cloud Function, protected by the verifier: only callers
 * whose Google ID token verifies and who are on {@code ALLOWED_INVOKERS} reach {@link SampleApi}.
 * Entry point for {@code gcloud functions deploy --entry-point
 * dev.invokerguard.function.ProtectedFunction}.
 *
 * <p>The configuration is read from the environment once, when the Functions Framework builds the
 * function with the no-arg constructor; a bad configuration stops the start-up, so the function
 * never serves with a half-read one (see {@code docs/FUNCTION.md}).
 */
public final class ProtectedFunction implements HttpFunction {
  private final HttpFunction guarded;

  /**
   * Reads the configuration from the environment and starts fetching the signing keys.
   *
   * @throws dev.invokerguard.guard.InvalidConfigurationException naming the variable at fault
   */
  public ProtectedFunction() {
    this.guarded = GuardedFunction.fromEnvironment(new SampleApi(Clock.systemUTC()));
  }

  /** For tests: a given verifier and clock, decision logs on stdout. */
  ProtectedFunction(CallerVerifier verifier, Clock clock) {
    this.guarded = GuardedFunction.protect(verifier, new SampleApi(clock));
  }

  @Override
  public void service(HttpRequest request, HttpResponse response) throws Exception {
    guarded.service(request, response);
  }
}
