package dev.invokerguard.standin;

import com.sun.net.httpserver.HttpExchange;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The front end of one deployed function, on its own loopback port: what Google puts before a
 * function that requires authentication. A request without a valid ID token for one of the
 * function's URLs gets Google's HTML 401; a valid token whose account lacks the invoker role (and
 * no {@code allUsers} grant) gets Google's HTML 403; neither reaches the function. Otherwise the
 * request is forwarded to the running instance with its headers, the judged token's signature
 * removed as the {@link FrontEndMode} says (see {@link PlatformRules}). With the service's invoker
 * IAM check off, every request is forwarded unjudged and as sent.
 */
final class FrontEnd implements AutoCloseable {
  /** What the front end did with one request. */
  record Decision(int status, String why) {}

  private static final Set<String> NOT_FORWARDED =
      Set.of(
          "connection",
          "content-length",
          "expect",
          "host",
          "upgrade",
          "keep-alive",
          "transfer-encoding",
          "te",
          "trailer",
          "proxy-authorization",
          "proxy-connection");

  private final LoopbackHttp server;
  private final HttpClient client =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final TestIssuer issuer;
  private final Clock clock;
  private final Supplier<Duration> propagationDelay;
  private final IamPolicy policy;
  private final String invokerRole;
  private final Supplier<List<String>> audiences;
  private final IntSupplier instancePort;
  private final FrontEndMode mode;
  private final BooleanSupplier invokerIamCheck;
  private final List<Decision> decisions = new CopyOnWriteArrayList<>();
  private final AtomicInteger forwarded = new AtomicInteger();

  FrontEnd(
      String name,
      TestIssuer issuer,
      Clock clock,
      Supplier<Duration> propagationDelay,
      IamPolicy policy,
      String invokerRole,
      Supplier<List<String>> audiences,
      IntSupplier instancePort,
      FrontEndMode mode,
      BooleanSupplier invokerIamCheck) {
    this.issuer = issuer;
    this.clock = clock;
    this.propagationDelay = propagationDelay;
    this.policy = policy;
    this.invokerRole = invokerRole;
    this.audiences = audiences;
    this.instancePort = instancePort;
    this.mode = mode;
    this.invokerIamCheck = invokerIamCheck;
    server =
        new LoopbackHttp(
            "front-end-" + name,
            exchange -> {
              try (exchange) {
                handle(exchange);
              } catch (IOException | RuntimeException e) {
                // The caller went away, or the instance did: answer as Google does when the
                // instance fails, if the headers are not out yet.
                try {
                  html(exchange, 503, "Service Unavailable", "The service is unavailable.");
                } catch (IOException | RuntimeException ignored) {
                  // nothing more to say
                }
              }
            });
  }

  URI uri() {
    return server.uri();
  }

  List<Decision> decisions() {
    return List.copyOf(decisions);
  }

  int forwardedCount() {
    return forwarded.get();
  }

  private void handle(HttpExchange exchange) throws IOException {
    Map<String, List<String>> headers = exchange.getRequestHeaders();
    String path = exchange.getRequestURI().getRawPath();
    java.time.Instant seenAt = clock.instant().minus(propagationDelay.get());
    if (!invokerIamCheck.getAsBoolean()) {
      // Cloud Run's invoker IAM check is off: the front end checks nothing, strips nothing.
      decisions.add(new Decision(0, "forwarded unjudged (invoker IAM check off)"));
      forward(exchange, null);
      return;
    }
    String judged = PlatformRules.judgedHeader(headers);
    if (!policy.grants(invokerRole, "allUsers", seenAt)) {
      String value = PlatformRules.first(headers, judged);
      Optional<String> email = Optional.empty();
      if (value != null) {
        String trimmed = value.strip();
        int space = trimmed.indexOf(' ');
        if (space > 0 && trimmed.substring(0, space).equalsIgnoreCase("bearer")) {
          email =
              IdTokens.verifiedEmail(
                  trimmed.substring(space + 1).strip(), issuer, audiences.get(), clock.instant());
        }
      }
      if (email.isEmpty()) {
        decisions.add(new Decision(401, "no valid ID token in " + judged));
        exchange
            .getResponseHeaders()
            .set(
                "WWW-Authenticate",
                "Bearer error=\"invalid_token\" error_description=\"The access token could not be"
                    + " verified\"");
        html(
            exchange,
            401,
            "Unauthorized",
            "Your client does not have permission to the requested URL <code>"
                + escape(path)
                + "</code>.");
        return;
      }
      String member = "serviceAccount:" + email.get().toLowerCase(Locale.ROOT);
      if (!policy.grants(invokerRole, member, seenAt)
          && !policy.grants(invokerRole, "allAuthenticatedUsers", seenAt)) {
        decisions.add(new Decision(403, member + " lacks " + invokerRole));
        html(
            exchange,
            403,
            "Forbidden",
            "Your client does not have permission to get URL <code>"
                + escape(path)
                + "</code> from this server.");
        return;
      }
      decisions.add(new Decision(0, "forwarded for " + member));
    } else {
      decisions.add(new Decision(0, "forwarded (allUsers)"));
    }
    forward(exchange, judged);
  }

  private void forward(HttpExchange exchange, String judged) throws IOException {
    int port = instancePort.getAsInt();
    if (port <= 0) {
      html(exchange, 503, "Service Unavailable", "The service is unavailable.");
      return;
    }
    byte[] body;
    try (InputStream in = exchange.getRequestBody()) {
      body = in.readAllBytes();
    }
    URI target = URI.create("http://127.0.0.1:" + port + exchange.getRequestURI().toString());
    HttpRequest.Builder request =
        HttpRequest.newBuilder(target)
            .timeout(Duration.ofSeconds(60))
            .method(
                exchange.getRequestMethod(),
                body.length == 0
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(body));
    exchange
        .getRequestHeaders()
        .forEach(
            (name, values) -> {
              if (!NOT_FORWARDED.contains(name.toLowerCase(Locale.ROOT))) {
                values.forEach(
                    value ->
                        request.header(
                            name, PlatformRules.forwardedValue(name, value, judged, mode)));
              }
            });
    request.header("X-Cloud-Trace-Context", HexFormat.of().formatHex(randomBytes(16)) + "/1;o=1");
    request.header("X-Forwarded-Proto", "https");
    HttpResponse<byte[]> response;
    try {
      forwarded.incrementAndGet();
      response = client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    response
        .headers()
        .map()
        .forEach(
            (name, values) -> {
              if (!NOT_FORWARDED.contains(name.toLowerCase(Locale.ROOT)) && !name.startsWith(":")) {
                exchange.getResponseHeaders().put(name, values);
              }
            });
    Json.send(exchange, response.statusCode(), response.body());
  }

  private static byte[] randomBytes(int n) {
    byte[] bytes = new byte[n];
    ThreadLocalRandom.current().nextBytes(bytes);
    return bytes;
  }

  /** Google front end's HTML error page. */
  private static void html(HttpExchange exchange, int status, String title, String message)
      throws IOException {
    String page =
        "<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n"
            + "<title>"
            + status
            + " "
            + title
            + "</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>Error: "
            + title
            + "</h1>\n<h2>"
            + message
            + "</h2>\n<h2></h2>\n</body></html>\n";
    exchange.getResponseHeaders().set("Content-Type", "text/html; charset=UTF-8");
    Json.send(exchange, status, page.getBytes(StandardCharsets.UTF_8));
  }

  private static String escape(String text) {
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }

  @Override
  public void close() {
    server.close();
  }
}
