package dev.invokerguard.testing;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class JwksEndpointTest {

  private final TestIssuer issuer = TestIssuer.builder().maxAgeSeconds(1234).start();

  @AfterEach
  void closeIssuer() {
    issuer.close();
  }

  @Test
  void normalResponse_hasJsonAndGoogleCacheControl() throws Exception {
    HttpResponse<String> response = Jwt.get(issuer.jwksUri());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type").orElseThrow())
        .startsWith("application/json");
    assertThat(response.headers().firstValue("Cache-Control").orElseThrow())
        .isEqualTo("public, max-age=1234, must-revalidate, no-transform");
    assertThat(response.headers().firstValue("Age")).isEmpty();
  }

  @Test
  void respondWith_servesStatusAndBodyUntilRespondNormally() throws Exception {
    issuer.jwks().respondWith(503, "down for maintenance");

    HttpResponse<String> failed = Jwt.get(issuer.jwksUri());
    assertThat(failed.statusCode()).isEqualTo(503);
    assertThat(failed.body()).isEqualTo("down for maintenance");

    issuer.jwks().respondNormally();
    HttpResponse<String> recovered = Jwt.get(issuer.jwksUri());
    assertThat(recovered.statusCode()).isEqualTo(200);
    assertThat(Jwt.fetchKeys(issuer.jwksUri()).keySet()).containsExactlyElementsIn(issuer.keyIds());
  }

  @Test
  void respondWith_emptyBody_servesNoContent() throws Exception {
    issuer.jwks().respondWith(500, "");

    HttpResponse<String> response = Jwt.get(issuer.jwksUri());

    assertThat(response.statusCode()).isEqualTo(500);
    assertThat(response.body()).isEmpty();
  }

  @Test
  void respondWithBytes_servesLargeBodyWhole() throws Exception {
    byte[] tenMegabytes = new byte[10 * 1024 * 1024];
    java.util.Arrays.fill(tenMegabytes, (byte) ' ');
    issuer.jwks().respondWithBytes(200, tenMegabytes);

    HttpResponse<byte[]> response =
        Jwt.HTTP.send(
            HttpRequest.newBuilder(issuer.jwksUri()).build(),
            HttpResponse.BodyHandlers.ofByteArray());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body().length).isEqualTo(tenMegabytes.length);
  }

  @Test
  void respondWith_statusOutOfRange_refused() {
    assertThrows(IllegalArgumentException.class, () -> issuer.jwks().respondWith(42, ""));
  }

  @Test
  void cacheControl_replacedOrOmitted() throws Exception {
    issuer.jwks().cacheControl("no-store");
    assertThat(Jwt.get(issuer.jwksUri()).headers().firstValue("Cache-Control"))
        .hasValue("no-store");

    issuer.jwks().cacheControl(null);
    assertThat(Jwt.get(issuer.jwksUri()).headers().firstValue("Cache-Control")).isEmpty();

    issuer.jwks().reset();
    assertThat(Jwt.get(issuer.jwksUri()).headers().firstValue("Cache-Control"))
        .hasValue("public, max-age=1234, must-revalidate, no-transform");
  }

  @Test
  void age_addedAndRemoved() throws Exception {
    issuer.jwks().age(600);
    assertThat(Jwt.get(issuer.jwksUri()).headers().firstValue("Age")).hasValue("600");

    issuer.jwks().age(null);
    assertThat(Jwt.get(issuer.jwksUri()).headers().firstValue("Age")).isEmpty();
  }

  @Test
  void respondNormally_keepsCacheHeaders() throws Exception {
    issuer.jwks().cacheControl("max-age=5").age(2).respondWith(502, "x");

    issuer.jwks().respondNormally();

    HttpResponse<String> response = Jwt.get(issuer.jwksUri());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Cache-Control")).hasValue("max-age=5");
    assertThat(response.headers().firstValue("Age")).hasValue("2");
  }

  @Test
  void requestCount_countsEveryRequestIncludingFailures() throws Exception {
    assertThat(issuer.jwks().requestCount()).isEqualTo(0);

    Jwt.get(issuer.jwksUri());
    issuer.jwks().respondWith(500, "");
    Jwt.get(issuer.jwksUri());

    assertThat(issuer.jwks().requestCount()).isEqualTo(2);
    assertThat(issuer.jwks().awaitRequestCount(2, Duration.ZERO)).isTrue();
    assertThat(issuer.jwks().awaitRequestCount(3, Duration.ofMillis(50))).isFalse();
  }

  @Test
  void delay_holdsTheResponseAtLeastThatLong() throws Exception {
    issuer.jwks().delay(Duration.ofMillis(300));

    long start = System.nanoTime();
    HttpResponse<String> response = Jwt.get(issuer.jwksUri());
    long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(elapsedMillis).isAtLeast(300L);
  }

  @Test
  void delay_hangingRequestDoesNotBlockOthers_andCloseReleasesItPromptly() throws Exception {
    issuer.jwks().delay(Duration.ofHours(1));
    CompletableFuture<HttpResponse<String>> hanging =
        Jwt.HTTP.sendAsync(
            HttpRequest.newBuilder(issuer.jwksUri()).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(issuer.jwks().awaitRequestCount(1, Duration.ofSeconds(10))).isTrue();

    issuer.jwks().delay(Duration.ZERO);
    HttpResponse<String> other = Jwt.get(issuer.jwksUri());
    assertThat(other.statusCode()).isEqualTo(200);
    assertThat(hanging.isDone()).isFalse();

    long start = System.nanoTime();
    issuer.close();
    // The hanging request ends (with an error: the server dropped it) soon after close.
    ExecutionException dropped =
        assertThrows(ExecutionException.class, () -> hanging.get(10, TimeUnit.SECONDS));
    assertThat(dropped).hasCauseThat().isInstanceOf(java.io.IOException.class);
    assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).isLessThan(10L);
  }

  @Test
  void nonGet_refusedWith405() throws Exception {
    HttpResponse<String> response =
        Jwt.HTTP.send(
            HttpRequest.newBuilder(issuer.jwksUri())
                .POST(HttpRequest.BodyPublishers.ofString("{}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(405);
  }
}
