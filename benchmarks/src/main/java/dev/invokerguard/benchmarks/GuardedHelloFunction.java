package dev.invokerguard.benchmarks;

import com.google.cloud.functions.HttpFunction;
import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import dev.invokerguard.guard.GuardedFunction;
import java.io.Writer;

/**
 * A diagnostic for {@code load.sh}: {@link HelloFunction}'s answer protected the way a user of this
 * project protects a function ({@link GuardedFunction#fromEnvironment}: verifier, HTTP contract and
 * decision log line), so that set against hello in the same run it gives the cost of the protection
 * alone, without the protected function's sample API. Packaged in {@code benchmarks-*-hello.jar};
 * never deployed.
 */
public final class GuardedHelloFunction implements HttpFunction {
  private final HttpFunction guarded =
      GuardedFunction.fromEnvironment(
          (caller, request, response) -> {
            response.setContentType("application/json; charset=utf-8");
            try (Writer writer = response.getWriter()) {
              writer.write("{\"hello\":\"world\"}");
            }
          });

  @Override
  public void service(HttpRequest request, HttpResponse response) throws Exception {
    guarded.service(request, response);
  }
}
