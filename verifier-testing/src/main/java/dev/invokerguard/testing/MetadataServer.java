package dev.invokerguard.testing;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A local stand-in for the Compute Engine / GKE metadata server, answering the requests that
 * google-auth-library-java's {@code ComputeEngineCredentials} sends when the environment variable
 * {@code GCE_METADATA_HOST} is set to {@link #host()}: the detection ping at {@code /}, the ID
 * token at {@code /computeMetadata/v1/instance/service-accounts/default/identity}, and the account
 * email, project id, universe domain and an opaque access token. ID tokens are minted by the {@link
 * TestIssuer} that started this server, for one configured service account, so a verifier pointed
 * at that issuer's keys accepts them.
 *
 * <p>As the real server does, it answers only requests that carry {@code Metadata-Flavor: Google}
 * (403 otherwise), refuses requests that carry {@code X-Forwarded-For} (they came through a proxy),
 * and marks every response with {@code Metadata-Flavor: Google}. An identity request needs an
 * {@code audience} (400 otherwise); {@code format=full} adds {@code email} and {@code
 * email_verified}, the default {@code format=standard} leaves them out; {@code licenses} is
 * accepted and ignored.
 *
 * <p>Tests can make the next identity requests fail ({@link #failNext}), drop the connection as a
 * server that is not ready yet does ({@link #dropNext}), or answer slowly ({@link #delay}).
 * Thread-safe.
 *
 * <p>This module is for tests and local development only and is never deployed.
 */
public final class MetadataServer implements AutoCloseable {

  /** The header the metadata server requires on requests and sets on responses. */
  public static final String FLAVOR_HEADER = "Metadata-Flavor";

  /** The only value of {@link #FLAVOR_HEADER} the metadata server accepts. */
  public static final String FLAVOR_VALUE = "Google";

  /** The path of the default service account's identity (ID token) endpoint. */
  public static final String IDENTITY_PATH =
      "/computeMetadata/v1/instance/service-accounts/default/identity";

  private static final String ACCOUNTS_PATH = "/computeMetadata/v1/instance/service-accounts/";
  private static final SecureRandom RANDOM = new SecureRandom();

  /**
   * One identity request as the server received it, for tests that check what a client asked for.
   *
   * @param audience the {@code audience} query parameter, or null when absent
   * @param format the {@code format} query parameter, or null when absent (standard)
   * @param hadFlavorHeader whether the request carried {@code Metadata-Flavor: Google}
   */
  public record IdentityRequest(String audience, String format, boolean hadFlavorHeader) {}

  private final TestIssuer issuer;
  private final String serviceAccountEmail;
  private final String projectId;
  private final LoopbackServer server;
  private final RequestCounter identityRequestCounter = new RequestCounter();

  // Guarded by "this".
  private final List<IdentityRequest> identityRequests = new ArrayList<>();
  private int failuresLeft;
  private int failureStatus;
  private int dropsLeft;
  private Duration delay = Duration.ZERO;

  MetadataServer(TestIssuer issuer, String serviceAccountEmail, int port) {
    this.issuer = issuer;
    this.serviceAccountEmail = Objects.requireNonNull(serviceAccountEmail, "serviceAccountEmail");
    this.projectId = projectOf(serviceAccountEmail);
    this.server = new LoopbackServer("metadata-server", port);
    server.handle("/", this::handle);
    server.start();
  }

  /**
   * Returns {@code "127.0.0.1:PORT"}, the value for the environment variable {@code
   * GCE_METADATA_HOST}.
   */
  public String host() {
    return server.hostAndPort();
  }

  /** Returns the service account whose tokens this server mints. */
  public String serviceAccountEmail() {
    return serviceAccountEmail;
  }

  /** Returns the project id this server reports: the project part of a service-account email. */
  public String projectId() {
    return projectId;
  }

  /** Returns how many requests have reached the identity endpoint, including refused ones. */
  public int identityRequestCount() {
    return identityRequestCounter.count();
  }

  /**
   * Waits until at least {@code count} identity requests have arrived, or {@code timeout} has
   * passed. Use this instead of sleeping to wait for a client's background refresh.
   *
   * @param count the number of requests to wait for
   * @param timeout the longest time to wait
   * @return true when the count was reached, false on timeout
   * @throws InterruptedException when the waiting thread is interrupted
   */
  public boolean awaitIdentityRequestCount(int count, Duration timeout)
      throws InterruptedException {
    return identityRequestCounter.await(count, timeout);
  }

  /** Returns the identity requests received so far, oldest first. */
  public synchronized List<IdentityRequest> identityRequests() {
    return List.copyOf(identityRequests);
  }

  /** Returns the most recent identity request, if any. */
  public synchronized Optional<IdentityRequest> lastIdentityRequest() {
    return identityRequests.isEmpty()
        ? Optional.empty()
        : Optional.of(identityRequests.get(identityRequests.size() - 1));
  }

  /**
   * Answers the next {@code count} well-formed identity requests (GET with {@code Metadata-Flavor:
   * Google}) with {@code status} (for example 429, 500 or 503) instead of a token, to test retries;
   * later requests are answered normally again.
   *
   * @param count how many requests fail, zero or more
   * @param status the HTTP status code to answer with
   */
  public synchronized void failNext(int count, int status) {
    if (count < 0) {
      throw new IllegalArgumentException("negative count: " + count);
    }
    if (status < 100 || status > 599) {
      throw new IllegalArgumentException("HTTP status out of range: " + status);
    }
    failuresLeft = count;
    failureStatus = status;
  }

  /**
   * Closes the connection of the next {@code count} well-formed identity requests without any
   * answer (before any {@link #failNext} failures are counted down), as a metadata server that is
   * not ready yet (a pod starting up) does; later requests are answered normally again. Some HTTP
   * clients silently retry a GET once on a dropped connection, so a count of 1 may be invisible to
   * them.
   *
   * @param count how many requests are dropped, zero or more
   */
  public synchronized void dropNext(int count) {
    if (count < 0) {
      throw new IllegalArgumentException("negative count: " + count);
    }
    dropsLeft = count;
  }

  /**
   * Makes the server wait {@code delay} before answering each following identity request ({@code
   * Duration.ZERO} to stop); closing the server releases waiting requests at once.
   *
   * @param delay how long to wait
   */
  public synchronized void delay(Duration delay) {
    Objects.requireNonNull(delay, "delay");
    if (delay.isNegative()) {
      throw new IllegalArgumentException("negative delay: " + delay);
    }
    this.delay = delay;
  }

  /** Stops the HTTP server promptly, also when requests are waiting out a delay. */
  @Override
  public void close() {
    server.close();
  }

  /** How one identity request is to be answered, decided when it arrives. */
  private record Fault(boolean drop, int status, Duration delay) {}

  private void handle(HttpExchange exchange) throws IOException {
    // Every real metadata response carries the flavor header; the library's detection ping checks
    // for it, since an internet provider's catch-all page could answer with 200 too.
    exchange.getResponseHeaders().set(FLAVOR_HEADER, FLAVOR_VALUE);
    String path = exchange.getRequestURI().getPath();
    Map<String, String> query = parseQuery(exchange.getRequestURI().getRawQuery());
    boolean flavored = FLAVOR_VALUE.equals(exchange.getRequestHeaders().getFirst(FLAVOR_HEADER));
    boolean forwarded = exchange.getRequestHeaders().containsKey("X-Forwarded-For");
    boolean get = "GET".equals(exchange.getRequestMethod());
    boolean identity = isIdentityPath(path);
    Fault fault = null;
    if (identity) {
      synchronized (this) {
        identityRequests.add(
            new IdentityRequest(query.get("audience"), query.get("format"), flavored));
        if (flavored && !forwarded && get) {
          fault = takeFault();
        }
      }
      // Count only after the fault is decided, so a test that waits for the count and then
      // changes the faults cannot change how this request is answered.
      identityRequestCounter.increment();
    }
    if (!flavored) {
      LoopbackServer.sendText(
          exchange, 403, "Missing required header \"Metadata-Flavor\": \"Google\"");
    } else if (forwarded) {
      LoopbackServer.sendText(exchange, 403, "Request had an X-Forwarded-For header: refused");
    } else if (!get) {
      exchange.getResponseHeaders().set("Allow", "GET");
      LoopbackServer.sendText(exchange, 405, "Method not allowed");
    } else if (identity) {
      answerIdentity(exchange, query, fault);
    } else {
      answerOther(exchange, path);
    }
  }

  private void answerOther(HttpExchange exchange, String path) throws IOException {
    switch (path) {
      case "/", "/computeMetadata/", "/computeMetadata/v1/" ->
          LoopbackServer.sendText(exchange, 200, "computeMetadata/\n");
      case "/computeMetadata/v1/instance/service-accounts/default/email" ->
          LoopbackServer.sendText(exchange, 200, serviceAccountEmail);
      case "/computeMetadata/v1/project/project-id" ->
          LoopbackServer.sendText(exchange, 200, projectId);
      case "/computeMetadata/v1/universe/universe-domain" ->
          LoopbackServer.sendText(exchange, 200, "googleapis.com");
      case "/computeMetadata/v1/instance/service-accounts/default/token" ->
          answerAccessToken(exchange);
      default -> LoopbackServer.sendText(exchange, 404, "Not found: " + path);
    }
  }

  private boolean isIdentityPath(String path) {
    // The real server also answers under the account's own email instead of the "default" alias.
    return path.equals(IDENTITY_PATH)
        || path.equals(ACCOUNTS_PATH + serviceAccountEmail + "/identity");
  }

  // Guarded by "this" (called from a synchronized block).
  private Fault takeFault() {
    if (dropsLeft > 0) {
      dropsLeft--;
      return new Fault(true, 0, Duration.ZERO);
    }
    if (failuresLeft > 0) {
      failuresLeft--;
      return new Fault(false, failureStatus, delay);
    }
    return new Fault(false, 0, delay);
  }

  private void answerIdentity(HttpExchange exchange, Map<String, String> query, Fault fault)
      throws IOException {
    if (fault.drop()) {
      return; // LoopbackServer closes the exchange: the client sees the connection end unanswered
    }
    if (!server.pause(fault.delay())) {
      return;
    }
    if (fault.status() != 0) {
      LoopbackServer.sendText(exchange, fault.status(), "injected failure");
      return;
    }
    String audience = query.get("audience");
    if (audience == null || audience.isEmpty()) {
      LoopbackServer.sendText(exchange, 400, "non-empty audience parameter required");
      return;
    }
    String format = query.getOrDefault("format", "standard");
    if (!format.equals("standard") && !format.equals("full")) {
      LoopbackServer.sendText(exchange, 400, "format must be \"standard\" or \"full\"");
      return;
    }
    String uniqueId = TestIssuer.uniqueIdOf(serviceAccountEmail);
    TokenBuilder token =
        issuer
            .token()
            .email(serviceAccountEmail)
            .audience(audience)
            // Metadata-server tokens name the account's unique ID as authorized party.
            .claim("azp", uniqueId);
    if (format.equals("full")) {
      token.claim("google", computeEngineClaim());
    } else {
      token.withoutEmail();
    }
    LoopbackServer.sendText(exchange, 200, token.build());
  }

  private JsonObject computeEngineClaim() {
    JsonObject computeEngine = new JsonObject();
    computeEngine.addProperty("instance_id", TestIssuer.uniqueIdOf(host()).substring(0, 19));
    computeEngine.addProperty("instance_name", "invoker-guard-local");
    computeEngine.addProperty("project_id", projectId);
    computeEngine.addProperty("zone", "us-central1-a");
    JsonObject google = new JsonObject();
    google.add("compute_engine", computeEngine);
    return google;
  }

  private void answerAccessToken(HttpExchange exchange) throws IOException {
    // Opaque and useless outside this process; present because ComputeEngineCredentials may ask.
    byte[] random = new byte[24];
    RANDOM.nextBytes(random);
    JsonObject body = new JsonObject();
    body.addProperty("access_token", "ya29.local-" + HexFormat.of().formatHex(random));
    body.addProperty("expires_in", 3599);
    body.addProperty("token_type", "Bearer");
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    LoopbackServer.send(exchange, 200, body.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static Map<String, String> parseQuery(String rawQuery) {
    Map<String, String> query = new LinkedHashMap<>();
    if (rawQuery == null || rawQuery.isEmpty()) {
      return query;
    }
    for (String pair : rawQuery.split("&")) {
      int equals = pair.indexOf('=');
      String name = equals < 0 ? pair : pair.substring(0, equals);
      String value = equals < 0 ? "" : pair.substring(equals + 1);
      // The first occurrence wins, so a repeated parameter cannot change what was checked.
      query.putIfAbsent(
          URLDecoder.decode(name, StandardCharsets.UTF_8),
          URLDecoder.decode(value, StandardCharsets.UTF_8));
    }
    return query;
  }

  private static String projectOf(String email) {
    int at = email.indexOf('@');
    String domain = at < 0 ? "" : email.substring(at + 1);
    int dot = domain.indexOf(".iam.gserviceaccount.com");
    return dot > 0 ? domain.substring(0, dot) : "invoker-guard-local";
  }
}
