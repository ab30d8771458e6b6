package dev.invokerguard.benchmarks;

import com.google.cloud.functions.HttpFunction;
import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import dev.invokerguard.verifier.CallerRejectedException;
import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.Reason;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import java.io.IOException;
import java.io.Writer;
import java.net.URI;
import java.util.Objects;

/**
 * A diagnostic for {@code load.sh}: {@link HelloFunction}'s answer behind {@link CallerVerifier}
 * alone, without the protected function's decision log and sample API. Set against the hello and
 * the protected function in the same run, it splits the protected function's cost into the
 * verifier's part and the rest. Reads {@code ALLOWED_INVOKERS}, {@code EXPECTED_AUDIENCES} and
 * {@code JWKS_URL} (required here, unlike the real function). Packaged in {@code
 * benchmarks-*-hello.jar}; never deployed.
 */
public final class VerifierOnlyFunction implements HttpFunction {
  private final CallerVerifier verifier;

  /** Builds the verifier from the environment and starts fetching its keys. */
  public VerifierOnlyFunction() {
    verifier =
        CallerVerifier.builder()
            .allowlist(ServiceAccountAllowlist.parse(required("ALLOWED_INVOKERS")))
            .expectedAudiences(required("EXPECTED_AUDIENCES").split(","))
            .jwksUri(URI.create(required("JWKS_URL")))
            .build();
    verifier.prefetchKeys();
  }

  private static String required(String name) {
    return Objects.requireNonNull(System.getenv(name), name + " is required");
  }

  /** Answers as {@link HelloFunction} once the caller is verified, else 401 or 403. */
  @Override
  public void service(HttpRequest request, HttpResponse response) throws IOException {
    try {
      verifier.verify(request.getHeaders());
    } catch (CallerRejectedException e) {
      response.setStatusCode(e.reason().category() == Reason.Category.FORBIDDEN ? 403 : 401);
      return;
    }
    response.setContentType("application/json; charset=utf-8");
    try (Writer writer = response.getWriter()) {
      writer.write("{\"hello\":\"world\"}");
    }
  }
}
