package dev.invokerguard.benchmarks;

import com.google.cloud.functions.HttpFunction;
import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import java.io.IOException;
import java.io.Writer;

/**
 * An unprotected HTTP function, the baseline of {@code load.sh}: the same invoker and JSON shape as
 * the protected function, without the verifier. Packaged alone in {@code benchmarks-*-hello.jar};
 * never deployed.
 */
public final class HelloFunction implements HttpFunction {
  /** Answers every request with a small JSON body, as the protected sample API does. */
  @Override
  public void service(HttpRequest request, HttpResponse response) throws IOException {
    response.setContentType("application/json; charset=utf-8");
    try (Writer writer = response.getWriter()) {
      writer.write("{\"hello\":\"world\"}");
    }
  }
}
