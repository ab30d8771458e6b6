package dev.invokerguard.guard;

import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import dev.invokerguard.verifier.VerifiedCaller;

/**
 * The function's own handler, called only for a verified, allowlisted caller. Wrap it with {@link
 * GuardedFunction#protect} or {@link GuardedFunction#fromEnvironment}.
 */
@FunctionalInterface
public interface ProtectedHandler {
  /**
   * Handles a request whose caller passed every check.
   *
   * @param caller who is calling; holding one is proof the checks ran
   * @param request the request, as the Functions Framework gives it
   * @param response the response to write
   * @throws Exception anything; the guard answers 500 {@code {"error":"internal"}} without details
   *     and logs the exception's class
   */
  void service(VerifiedCaller caller, HttpRequest request, HttpResponse response) throws Exception;
}
