package dev.invokerguard.function;

import com.google.cloud.functions.HttpFunction;
import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import dev.invokerguard.guard.GuardedFunction;
import dev.invokerguard.verifier.VerifiedCaller;

/**
 * The "protect your own function in a few lines" example of docs/FUNCTION.md, verbatim but for the
 * package, so that the documented code is known to work in the real invoker ({@code
 * ExampleFunctionIT}).
 */
public final class ExampleFunction implements HttpFunction {
  // Reads ALLOWED_INVOKERS, EXPECTED_AUDIENCES, ... once; a bad value stops the start-up.
  private final HttpFunction guarded = GuardedFunction.fromEnvironment(this::handle);

  @Override
  public void service(HttpRequest request, HttpResponse response) throws Exception {
    guarded.service(request, response);
  }

  // Called only for a verified, allowlisted caller.
  private void handle(VerifiedCaller caller, HttpRequest request, HttpResponse response)
      throws Exception {
    response.setContentType("text/plain; charset=utf-8");
    response.getWriter().write("Hello, " + caller.principal() + "\n");
  }
}
