package com.example.orders;

import com.google.cloud.functions.HttpFunction;
import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import dev.invokerguard.guard.GuardedFunction;
import dev.invokerguard.verifier.VerifiedCaller;

/** The orders API: only the service accounts in ALLOWED_INVOKERS reach {@link #handle}. */
public final class OrdersFunction implements HttpFunction {
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
    response.getWriter().write("orders for " + caller.principal() + "\n");
  }
}
