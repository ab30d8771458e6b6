package dev.invokerguard.standin;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * A local stand-in for the Google APIs that {@code deploy.sh} drives through the real {@code
 * gcloud} CLI, on one loopback port, keeping state like the real services and recording every
 * request. Each API has its own path prefix ({@code /cloudfunctions/}, {@code /run/}, ...), which
 * {@link #gcloudEnvironment()} gives gcloud as {@code CLOUDSDK_API_ENDPOINT_OVERRIDES_*}.
 *
 * <p>It imitates, one file per API behind a route table (API path prefix to handler): the OAuth
 * token endpoint for service-account keys it made ({@link OAuthTokens}, {@link
 * #writeServiceAccountKey}); Cloud Functions v2 (get, create, patch, generateUploadUrl and the
 * upload, operations, runtimes) and v1 (the same for 1st gen, and the function's IAM policy)
 * ({@link CloudFunctions}); Cloud Run's service IAM policy, and its v1 (Knative) service get and
 * replace on the regional host gcloud derives ({@link RunServices}; the stand-in is gcloud's HTTP
 * proxy for that); IAM service accounts ({@link IamServiceAccounts}) and credentials ({@link
 * IamCredentials}); GKE ({@link GkeClusters}); Logging and Monitoring ({@link LoggingMonitoring});
 * the Service Usage, Cloud Build and Resource Manager reads gcloud makes on a deploy ({@link
 * ProjectApis}). The IAM policy methods of functions and services are one ({@link
 * ResourcePolicies}). Deployed functions run: see {@link DeployedFunction}. A request it does not
 * know is answered 501 and recorded ({@link #assertNoUnexpectedRequests()}).
 *
 * <p>Test support only, never deployed: anyone who reaches the port can deploy and read keys.
 */
public final class GoogleStandIn implements AutoCloseable {
  /**
   * The APIs gcloud is pointed at the stand-in for: every one it may call on the way, so that no
   * request leaves the machine. Those the stand-in does not serve are recorded as unexpected.
   */
  public static final List<String> OVERRIDDEN_APIS =
      List.of(
          "cloudfunctions",
          "run",
          "serviceusage",
          "cloudbuild",
          "cloudresourcemanager",
          "iam",
          "iamcredentials",
          "storage",
          "artifactregistry",
          "logging",
          "monitoring",
          "compute",
          "cloudscheduler",
          "pubsub",
          "eventarc",
          "secretmanager",
          "cloudkms",
          "oslogin",
          "container",
          "appengine",
          "cloudidentity",
          "sts",
          "policyanalyzer",
          "orgpolicy");

  /**
   * One request the stand-in received; {@code host} is its Host header (the stand-in's own {@code
   * 127.0.0.1:PORT}, or a regional name gcloud derived from it, {@code REGION-127.0.0.1:PORT}).
   */
  public record Request(
      java.time.Instant at,
      String method,
      String api,
      String path,
      String query,
      String body,
      String host) {
    @Override
    public String toString() {
      return method + " /" + api + path + (query == null ? "" : "?" + query);
    }
  }

  /** How one API answers a request: JSON, bytes, or null when it does not know the request. */
  @FunctionalInterface
  private interface Route {
    Object answer(Request request, String caller, byte[] body) throws IOException;
  }

  private final TestIssuer issuer;
  private final Clock clock;
  private final String project;
  private final String projectNumber;
  private final Path workDir;
  private final String invokerClasspath;
  private final FrontEndMode frontEndMode;
  private final LoopbackHttp server;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final List<Request> unexpected = new CopyOnWriteArrayList<>();
  private volatile Duration propagationDelay = Duration.ZERO;
  private final OAuthTokens oauth;
  private final ResourcePolicies policies = new ResourcePolicies();
  private final CloudFunctions cloudFunctions;
  private final IamServiceAccounts iam;
  private final GkeClusters gke;
  private final LoggingMonitoring loggingMonitoring;

  /** The route table: each API's path prefix and its handler. */
  private final Map<String, Route> routes;

  /** The routes that need no access token: the token endpoint and the upload URLs. */
  private final Map<String, Route> openRoutes;

  private GoogleStandIn(Builder builder) {
    this.issuer = builder.issuer;
    this.clock = builder.clock;
    this.project = builder.project;
    this.projectNumber = builder.projectNumber;
    this.workDir = builder.workDir;
    this.invokerClasspath = builder.invokerClasspath;
    this.frontEndMode = builder.frontEndMode;
    try {
      Files.createDirectories(workDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    this.oauth = new OAuthTokens(issuer, project, this::uri);
    ProjectApis projects = new ProjectApis(project, projectNumber);
    this.cloudFunctions =
        new CloudFunctions(
            this, project, projectNumber, clock, workDir, this::uri, projects, policies);
    this.iam = new IamServiceAccounts(this::uri, oauth.keys(), clock, project);
    this.gke = new GkeClusters(iam::projectExists);
    this.loggingMonitoring = new LoggingMonitoring(project::equals, clock);
    IamCredentials credentials = new IamCredentials(iam, issuer, clock, oauth::newAccessToken);
    RunServices runServices =
        new RunServices(project, projectNumber, clock, cloudFunctions::function, policies);
    this.openRoutes =
        Map.of(
            "token",
            (r, caller, body) -> r.method().equals("POST") ? oauth.token(r.body()) : null,
            "upload",
            (r, caller, body) -> cloudFunctions.upload(r, body));
    this.routes =
        Map.of(
            "cloudfunctions", (r, caller, body) -> cloudFunctions.route(r),
            "run", (r, caller, body) -> runServices.route(r, regionOf(r)),
            "serviceusage", (r, caller, body) -> projects.serviceUsage(r),
            "cloudbuild", (r, caller, body) -> projects.cloudBuild(r),
            "cloudresourcemanager", (r, caller, body) -> projects.resourceManager(r),
            "iam", (r, caller, body) -> iam.route(r),
            "iamcredentials", (r, caller, body) -> credentials.route(r, caller),
            "container", (r, caller, body) -> gke.route(r),
            "logging", (r, caller, body) -> loggingMonitoring.route(r),
            "monitoring", (r, caller, body) -> loggingMonitoring.route(r));
    this.server = new LoopbackHttp("google-standin", this::serve);
  }

  /** Starts describing a stand-in. */
  public static Builder builder() {
    return new Builder();
  }

  /** Options of a {@link GoogleStandIn}. */
  public static final class Builder {
    private TestIssuer issuer;
    private Clock clock = Clock.systemUTC();
    private String project;
    private String projectNumber = "123456789012";
    private Path workDir;
    private String invokerClasspath = ChildJvm.currentClasspath();
    private FrontEndMode frontEndMode = FrontEndMode.STRIP_SERVERLESS_ONLY;

    private Builder() {}

    /** The issuer whose keys sign ID tokens in this world (required). */
    public Builder issuer(TestIssuer issuer) {
      this.issuer = Objects.requireNonNull(issuer, "issuer");
      return this;
    }

    /** The one project that exists (required); any other is refused with 403. */
    public Builder project(String project) {
      this.project = Objects.requireNonNull(project, "project");
      return this;
    }

    /** The project's number (default 123456789012). */
    public Builder projectNumber(String projectNumber) {
      this.projectNumber = Objects.requireNonNull(projectNumber, "projectNumber");
      return this;
    }

    /** Where uploads are kept and deployments unpacked (required; a test's temp dir). */
    public Builder workDir(Path workDir) {
      this.workDir = Objects.requireNonNull(workDir, "workDir");
      return this;
    }

    /** The clock of tokens, policies and update times (default the system clock). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * The classpath of the child JVM that runs a deployment: the Functions Framework invoker
     * (default this JVM's classpath; the invoker loads the deployed jar in its own class loader).
     */
    public Builder invokerClasspath(String classpath) {
      this.invokerClasspath = Objects.requireNonNull(classpath, "classpath");
      return this;
    }

    /**
     * Which plausible behaviour of Google's front end every function's front end plays (default
     * {@link FrontEndMode#STRIP_SERVERLESS_ONLY}).
     */
    public Builder frontEndMode(FrontEndMode mode) {
      this.frontEndMode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /** Starts the stand-in. */
    public GoogleStandIn start() {
      if (issuer == null || project == null || workDir == null) {
        throw new IllegalStateException("issuer, project and workDir are required");
      }
      return new GoogleStandIn(this);
    }
  }

  // --- what tests use -----------------------------------------------------------------------

  /** {@code http://127.0.0.1:PORT/}. */
  public URI uri() {
    return server.uri();
  }

  /**
   * The {@code CLOUDSDK_API_ENDPOINT_OVERRIDES_*} variables that send every API in {@link
   * #OVERRIDDEN_APIS} here, and the {@code CLOUDSDK_PROXY_*} variables that make the stand-in
   * gcloud's HTTP proxy as well. gcloud derives regional hosts from an override ({@code gcloud run}
   * calls {@code http://europe-west1-127.0.0.1:PORT/run/}), a name that does not resolve and must
   * not be looked up: through a proxy, gcloud resolves no name at all and sends every request, in
   * absolute form, to this loopback port, which routes it by path whatever the host.
   */
  public Map<String, String> gcloudEnvironment() {
    Map<String, String> env = new LinkedHashMap<>();
    for (String api : OVERRIDDEN_APIS) {
      env.put("CLOUDSDK_API_ENDPOINT_OVERRIDES_" + api.toUpperCase(Locale.ROOT), uri() + api + "/");
    }
    env.put("CLOUDSDK_PROXY_TYPE", "http");
    env.put("CLOUDSDK_PROXY_ADDRESS", "127.0.0.1");
    env.put("CLOUDSDK_PROXY_PORT", Integer.toString(server.port()));
    return env;
  }

  /**
   * Writes a service-account key file for {@code email} (a real RSA key generated now) whose {@code
   * token_uri} is this stand-in's token endpoint, for {@code gcloud auth activate-service-account
   * --key-file}.
   */
  public Path writeServiceAccountKey(String email, Path file) throws IOException {
    return oauth.writeServiceAccountKey(email, file);
  }

  /**
   * Makes the token endpoint answer the next {@code count} requests with 503 UNAVAILABLE, as during
   * an outage (then as usual): for tests of a client's retries.
   */
  public void failNextTokenRequests(int count) {
    if (count < 0) {
      throw new IllegalArgumentException("count must not be negative");
    }
    oauth.failNext(count);
  }

  /** The IAM API's service accounts and keys (client projects are added there). */
  public IamServiceAccounts iam() {
    return iam;
  }

  /** The GKE API's clusters. */
  public GkeClusters gke() {
    return gke;
  }

  /** Cloud Logging's log-based metrics and Cloud Monitoring's alert policies and dashboards. */
  public LoggingMonitoring loggingMonitoring() {
    return loggingMonitoring;
  }

  /** Every request received so far, in order. */
  public List<Request> requests() {
    return List.copyOf(requests);
  }

  /**
   * Writes every request received so far to {@code file}, one a line with its time (and its body
   * indented below it): what the CLI sent, for whoever reads a failure or wonders what gcloud
   * calls.
   */
  public void writeRequestLog(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.write(
        file,
        requests().stream()
            .map(
                r ->
                    r.at()
                        + " "
                        + r
                        + (authority().equals(r.host()) ? "" : " (Host: " + r.host() + ")")
                        + (r.body().isEmpty() ? "" : "\n    " + r.body()))
            .toList());
  }

  /** The requests the stand-in did not know (each answered 501). */
  public List<Request> unexpectedRequests() {
    return List.copyOf(unexpected);
  }

  /** Throws an AssertionError naming method and path of every unexpected request. */
  public void assertNoUnexpectedRequests() {
    if (!unexpected.isEmpty()) {
      throw new AssertionError(
          "the Google stand-in got requests it does not serve:\n  "
              + String.join(
                  "\n  ", unexpected.stream().map(r -> r + " (Host: " + r.host() + ")").toList()));
    }
  }

  /** The deployed function {@code name} in {@code region}. */
  public DeployedFunction function(String region, String name) {
    DeployedFunction function = cloudFunctions.function(region, name);
    if (function == null) {
      throw new IllegalStateException("no function " + name + " in " + region);
    }
    return function;
  }

  /**
   * Makes the front end see IAM policies as they were {@code delay} ago, as Google's IAM takes time
   * to propagate a change (default zero).
   */
  public void propagationDelay(Duration delay) {
    this.propagationDelay = Objects.requireNonNull(delay, "delay");
  }

  /**
   * Enforces domain-restricted sharing ({@code constraints/iam.allowedPolicyMemberDomains}) on the
   * functions' and services' IAM policies: a setIamPolicy whose policy names any member for which
   * {@code permitted} is false is refused as Google refuses it (400 FAILED_PRECONDITION, "One or
   * more users named in the policy do not belong to a permitted customer", a PreconditionFailure
   * naming the constraint). Like Google, every member of the policy written is checked, not only
   * the new ones.
   */
  public void restrictPolicyMembers(Predicate<String> permitted) {
    policies.restrictMembers(permitted);
  }

  /** Stops every running function, every front end and the API server. */
  @Override
  public void close() {
    cloudFunctions.closeAll();
    server.close();
  }

  // --- for DeployedFunction --------------------------------------------------------------------

  TestIssuer issuer() {
    return issuer;
  }

  Clock clock() {
    return clock;
  }

  /** The front-end mode this stand-in plays. */
  public FrontEndMode frontEndMode() {
    return frontEndMode;
  }

  Duration propagationDelay() {
    return propagationDelay;
  }

  Path workDir() {
    return workDir;
  }

  String projectNumber() {
    return projectNumber;
  }

  String invokerClasspath() {
    return invokerClasspath;
  }

  String projectHash() {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(project.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest).substring(0, 10);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * What the platform adds to a deployment's environment. Not {@code K_SERVICE}: with it the guard
   * insists on Google's own key endpoint, and in this world Google's keys are the local issuer's,
   * which {@code JWKS_URL} points at (set by the platform here, whatever the deployment says).
   */
  Map<String, String> platformEnvironment(String entryPoint, int port) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("FUNCTION_TARGET", entryPoint);
    env.put("FUNCTION_SIGNATURE_TYPE", "http");
    env.put("PORT", Integer.toString(port));
    env.put("JWKS_URL", issuer.jwksUri().toString());
    return env;
  }

  /** See {@link CloudFunctions#addIdle}. */
  DeployedFunction addIdleFunction(String region, String id, int generation) {
    return cloudFunctions.addIdle(region, id, generation);
  }

  /** The function as API version {@code apiVersion} (1 or 2) reports it. */
  JsonObject functionJson(DeployedFunction function, int apiVersion) {
    return cloudFunctions.functionJson(function, apiVersion);
  }

  // --- the server ----------------------------------------------------------------------------

  private void serve(HttpExchange exchange) throws IOException {
    try (exchange) {
      String host = exchange.getRequestHeaders().getFirst("Host");
      // Defensive: a request URI without a path (the JDK server itself drops CONNECT).
      String rawPath = Objects.requireNonNullElse(exchange.getRequestURI().getRawPath(), "");
      String query = exchange.getRequestURI().getRawQuery();
      String body;
      try (InputStream in = exchange.getRequestBody()) {
        byte[] bytes = in.readAllBytes();
        body =
            rawPath.startsWith("/upload/")
                ? "<" + bytes.length + " bytes>"
                : new String(bytes, StandardCharsets.UTF_8);
        exchange.setAttribute("bytes", bytes);
      }
      int slash = rawPath.indexOf('/', 1);
      String api =
          rawPath.isEmpty() ? "" : slash < 0 ? rawPath.substring(1) : rawPath.substring(1, slash);
      String path = slash < 0 ? "/" : rawPath.substring(slash);
      Request request =
          new Request(clock.instant(), exchange.getRequestMethod(), api, path, query, body, host);
      requests.add(request);
      try {
        // Only this port's own name, or a regional name gcloud derived from it, is served: a
        // request for any other host (through the proxy) is one that would have left the machine.
        boolean loopbackHost = authority().equals(host) || regionOf(request) != null;
        Object answer = loopbackHost ? route(exchange, request) : null;
        if (answer == null) {
          unexpected.add(request);
          Json.send(
              exchange,
              501,
              Json.error(501, "UNIMPLEMENTED", "google stand-in: unexpected request " + request));
        } else if (answer instanceof JsonObject json) {
          Json.send(exchange, 200, json);
        } else {
          Json.send(exchange, 200, (byte[]) answer);
        }
      } catch (ApiException e) {
        Json.send(exchange, e.code, Json.error(e.code, e.status, e.getMessage(), e.details));
      } catch (RuntimeException e) {
        // A bug in the stand-in: say so in the answer instead of dropping the connection.
        Json.send(exchange, 500, Json.error(500, "INTERNAL", "google stand-in failed: " + e));
      }
    }
  }

  /** The answer (JsonObject or bytes), or null for a request the stand-in does not know. */
  private Object route(HttpExchange exchange, Request r) throws IOException {
    byte[] body = (byte[]) exchange.getAttribute("bytes");
    Route open = openRoutes.get(r.api());
    if (open != null) {
      return open.answer(r, null, body);
    }
    Route route = routes.get(r.api());
    if (route == null) {
      return null;
    }
    return route.answer(r, oauth.authenticate(exchange), body);
  }

  private String authority() {
    return server.authority();
  }

  /** The region of a request sent to a regional host gcloud derived, or null. */
  private String regionOf(Request r) {
    return RunServices.regionOf(r.host(), authority());
  }
}
