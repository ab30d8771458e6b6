package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A local stand-in for the Google APIs that {@code deploy.sh} drives through the real {@code
 * gcloud} CLI, on one loopback port, keeping state like the real services and recording every
 * request. Each API has its own path prefix ({@code /cloudfunctions/}, {@code /run/}, ...), which
 * {@link #gcloudEnvironment()} gives gcloud as {@code CLOUDSDK_API_ENDPOINT_OVERRIDES_*}.
 *
 * <p>It imitates: the OAuth token endpoint for service-account keys it made ({@link
 * #writeServiceAccountKey}); Cloud Functions v2 (get, create, patch, generateUploadUrl and the
 * upload, operations, runtimes) and v1 (the same for 1st gen, and the function's IAM policy); Cloud
 * Run's service IAM policy, and its v1 (Knative) service get and replace on the regional host
 * gcloud derives, for custom audiences ({@link RunServices}; the stand-in is gcloud's HTTP proxy
 * for that); the Service Usage, Cloud Build and Resource Manager reads gcloud makes on a deploy.
 * Deployed functions run: see {@link DeployedFunction}. A request it does not know is answered 501
 * and recorded ({@link #assertNoUnexpectedRequests()}).
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

  private static final List<String> SERVED_APIS =
      List.of(
          "cloudfunctions",
          "run",
          "serviceusage",
          "cloudbuild",
          "cloudresourcemanager",
          "iam",
          "iamcredentials",
          "container",
          "logging",
          "monitoring");

  private static final Pattern FUNCTION_V2 =
      Pattern.compile("/v2/projects/([^/]+)/locations/([^/]+)/functions/([^/:]+)(:\\w+)?");
  private static final Pattern FUNCTIONS_V2 =
      Pattern.compile("/v2/projects/([^/]+)/locations/([^/]+)/functions(:generateUploadUrl)?");
  private static final Pattern FUNCTION_V1 =
      Pattern.compile("/v1/projects/([^/]+)/locations/([^/]+)/functions/([^/:]+)(:\\w+)?");
  private static final Pattern FUNCTIONS_V1 =
      Pattern.compile("/v1/projects/([^/]+)/locations/([^/]+)/functions(:generateUploadUrl)?");
  private static final Pattern RUNTIMES =
      Pattern.compile("/v2/projects/([^/]+)/locations/([^/]+)/runtimes");
  private static final Pattern OPERATION_V2 =
      Pattern.compile("/v2/(projects/[^/]+/locations/[^/]+/operations/[^/]+)");
  private static final Pattern OPERATION_V1 = Pattern.compile("/v1/(operations/[^/]+)");
  private static final Pattern RUN_SERVICE_IAM =
      Pattern.compile("/v1/projects/([^/]+)/locations/([^/]+)/services/([^/:]+):(\\w+)");
  private static final Pattern SERVICE_USAGE =
      Pattern.compile("/v1/projects/([^/]+)/services/([^/]+)");
  private static final Pattern BUILD_ACCOUNT =
      Pattern.compile("/v1/projects/([^/]+)/locations/([^/]+)/defaultServiceAccount");
  private static final Pattern PROJECT = Pattern.compile("/v1/projects/([^/:]+)(:getIamPolicy)?");
  private static final List<String> RUNTIME_NAMES = List.of("java11", "java17", "java21");
  private static final SecureRandom RANDOM = new SecureRandom();

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

  private final TestIssuer issuer;
  private final Clock clock;
  private final String project;
  private final String projectNumber;
  private final Path workDir;
  private final String invokerClasspath;
  private final HttpServer server;
  private final ExecutorService executor;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final List<Request> unexpected = new CopyOnWriteArrayList<>();
  private final Map<String, PublicKey> keys = new ConcurrentHashMap<>();
  private final Map<String, String> accessTokens = new ConcurrentHashMap<>();
  private final Map<String, Path> uploads = new ConcurrentHashMap<>();
  private final Map<String, DeployedFunction> functions = new ConcurrentHashMap<>();
  private final Map<String, Operation> operations = new ConcurrentHashMap<>();
  private volatile Duration propagationDelay = Duration.ZERO;
  private final IamServiceAccounts iam;
  private final IamCredentials credentials;
  private final GkeClusters gke;
  private final LoggingMonitoring loggingMonitoring;
  private final RunServices runServices;
  private volatile Predicate<String> permittedMember = member -> true;

  private GoogleStandIn(Builder builder) {
    this.issuer = builder.issuer;
    this.clock = builder.clock;
    this.project = builder.project;
    this.projectNumber = builder.projectNumber;
    this.workDir = builder.workDir;
    this.invokerClasspath = builder.invokerClasspath;
    this.iam = new IamServiceAccounts(this::uri, keys, builder.clock, builder.project);
    this.gke = new GkeClusters(iam::projectExists);
    this.loggingMonitoring = new LoggingMonitoring(builder.project::equals, builder.clock);
    this.credentials = new IamCredentials(iam, builder.issuer, builder.clock, this::newAccessToken);
    this.runServices =
        new RunServices(
            builder.project,
            builder.projectNumber,
            builder.clock,
            (region, name) -> functions.get(region + "/" + name));
    try {
      Files.createDirectories(workDir);
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    executor =
        Executors.newCachedThreadPool(
            runnable -> {
              Thread thread = new Thread(runnable, "google-standin");
              thread.setDaemon(true);
              return thread;
            });
    server.setExecutor(executor);
    server.createContext("/", this::serve);
    server.start();
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
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
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
    env.put("CLOUDSDK_PROXY_PORT", Integer.toString(server.getAddress().getPort()));
    return env;
  }

  /**
   * Writes a service-account key file for {@code email} (a real RSA key generated now) whose {@code
   * token_uri} is this stand-in's token endpoint, for {@code gcloud auth activate-service-account
   * --key-file}.
   */
  public Path writeServiceAccountKey(String email, Path file) throws IOException {
    String keyId = HexFormat.of().formatHex(randomBytes(20));
    ServiceAccountKeyFile key =
        ServiceAccountKeyFile.generate(keyId, project, email, TestIssuer.uniqueIdOf(email), uri());
    keys.put(keyId, key.publicKey());
    Files.writeString(file, key.json().toString());
    return file;
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
    DeployedFunction function = functions.get(region + "/" + name);
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
    this.permittedMember = Objects.requireNonNull(permitted, "permitted");
  }

  /** Stops every running function, every front end and the API server. */
  @Override
  public void close() {
    functions.values().forEach(DeployedFunction::close);
    server.stop(0);
    executor.shutdownNow();
  }

  // --- for DeployedFunction --------------------------------------------------------------------

  TestIssuer issuer() {
    return issuer;
  }

  Clock clock() {
    return clock;
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
        body = rawPath.startsWith("/upload/") ? "<" + bytes.length + " bytes>" : utf8(bytes);
        if (rawPath.startsWith("/upload/")) {
          exchange.setAttribute("bytes", bytes);
        }
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
    String method = r.method();
    if (r.api().equals("token") && method.equals("POST")) {
      return token(r.body());
    }
    if (r.api().equals("upload") && method.equals("PUT")) {
      Path file = uploads.get(r.path().substring(1));
      if (file == null) {
        throw new ApiException(404, "NOT_FOUND", "no such upload URL");
      }
      Files.write(file, (byte[]) exchange.getAttribute("bytes"));
      return new byte[0];
    }
    if (!SERVED_APIS.contains(r.api())) {
      return null;
    }
    String caller = authenticate(exchange);
    Matcher m;
    switch (r.api()) {
      case "serviceusage" -> {
        if (method.equals("GET") && (m = SERVICE_USAGE.matcher(r.path())).matches()) {
          checkProject(m.group(1));
          JsonObject service = new JsonObject();
          service.addProperty("name", "projects/" + projectNumber + "/services/" + m.group(2));
          service.addProperty("parent", "projects/" + projectNumber);
          service.addProperty("state", "ENABLED");
          return service;
        }
      }
      case "cloudbuild" -> {
        if (method.equals("GET") && (m = BUILD_ACCOUNT.matcher(r.path())).matches()) {
          checkProject(m.group(1));
          JsonObject account = new JsonObject();
          account.addProperty("name", r.path().substring(4));
          account.addProperty(
              "serviceAccountEmail",
              "projects/" + project + "/serviceAccounts/" + computeAccount());
          return account;
        }
      }
      case "cloudresourcemanager" -> {
        if ((m = PROJECT.matcher(r.path())).matches()) {
          checkProject(m.group(1));
          if (m.group(2) == null && method.equals("GET")) {
            JsonObject p = new JsonObject();
            p.addProperty("projectNumber", projectNumber);
            p.addProperty("projectId", project);
            p.addProperty("lifecycleState", "ACTIVE");
            p.addProperty("name", project);
            return p;
          }
          if (m.group(2) != null && method.equals("POST")) {
            // The deployer owns the project; nothing else is modelled at project level.
            return JsonParser.parseString(
                    "{\"version\":1,\"etag\":\"BwAAAAAAAAE=\",\"bindings\":[{\"role\":"
                        + "\"roles/owner\",\"members\":[\"user:owner@example.com\"]}]}")
                .getAsJsonObject();
          }
        }
      }
      case "cloudfunctions" -> {
        return cloudFunctions(r);
      }
      case "iam" -> {
        return iam.route(r);
      }
      case "iamcredentials" -> {
        return credentials.route(r, caller);
      }
      case "container" -> {
        return gke.route(r);
      }
      case "logging", "monitoring" -> {
        return loggingMonitoring.route(r);
      }
      case "run" -> {
        JsonObject knative = runServices.route(r, regionOf(r));
        if (knative != null) {
          return knative;
        }
        if ((m = RUN_SERVICE_IAM.matcher(r.path())).matches()) {
          checkProject(m.group(1));
          DeployedFunction function = functions.get(m.group(2) + "/" + m.group(3));
          if (function == null || function.generation() != 2) {
            throw new ApiException(
                404, "NOT_FOUND", "Resource '" + m.group(3) + "' of kind 'SERVICE' not found");
          }
          return iam(function.policy(), m.group(4), method, r);
        }
      }
      default -> {
        return null;
      }
    }
    return null;
  }

  private String authority() {
    return "127.0.0.1:" + server.getAddress().getPort();
  }

  /** The region of a request sent to a regional host gcloud derived, or null. */
  private String regionOf(Request r) {
    return RunServices.regionOf(r.host(), authority());
  }

  private Object cloudFunctions(Request r) {
    String method = r.method();
    String path = r.path();
    Matcher m;
    if (method.equals("GET") && (m = RUNTIMES.matcher(path)).matches()) {
      checkProject(m.group(1));
      return runtimes(query(r.query()).get("filter"));
    }
    if ((m = OPERATION_V2.matcher(path)).matches() || (m = OPERATION_V1.matcher(path)).matches()) {
      Operation op = operations.get(m.group(1));
      if (op == null || !method.equals("GET")) {
        throw new ApiException(404, "NOT_FOUND", "Operation " + m.group(1) + " not found");
      }
      return op.toJson();
    }
    boolean v2 = path.startsWith("/v2/");
    if ((m = (v2 ? FUNCTIONS_V2 : FUNCTIONS_V1).matcher(path)).matches() && method.equals("POST")) {
      checkProject(m.group(1));
      if (m.group(3) != null) {
        return generateUploadUrl(m.group(2), v2);
      }
      return v2
          ? createV2(m.group(2), query(r.query()).get("functionId"), Json.object(r.body()))
          : createV1(m.group(2), Json.object(r.body()));
    }
    if ((m = (v2 ? FUNCTION_V2 : FUNCTION_V1).matcher(path)).matches()) {
      checkProject(m.group(1));
      DeployedFunction function = functions.get(m.group(2) + "/" + m.group(3));
      boolean visible = function != null && (v2 || function.generation() == 1);
      String verb = m.group(4);
      if (!visible) {
        throw new ApiException(
            404,
            "NOT_FOUND",
            "Resource 'projects/"
                + project
                + "/locations/"
                + m.group(2)
                + "/functions/"
                + m.group(3)
                + "' was not found");
      }
      if (verb == null && method.equals("GET")) {
        return functionJson(function, v2 ? 2 : 1);
      }
      if (verb == null && method.equals("PATCH")) {
        return patch(function, v2, query(r.query()).get("updateMask"), Json.object(r.body()));
      }
      if (verb != null && !v2 && function.generation() == 1) {
        return iam(function.policy(), verb.substring(1), method, r);
      }
    }
    return null;
  }

  private JsonObject iam(IamPolicy policy, String verb, String method, Request r) {
    switch (verb) {
      case "getIamPolicy" -> {
        String requested = query(r.query()).get("options.requestedPolicyVersion");
        if (method.equals("POST")) {
          JsonObject options = Json.child(Json.object(r.body()), "options");
          requested = Json.string(options, "requestedPolicyVersion");
        }
        return policy.get(requested == null ? 1 : Integer.parseInt(requested));
      }
      case "setIamPolicy" -> {
        if (!method.equals("POST")) {
          return null;
        }
        JsonObject body = Json.object(r.body());
        if (!body.has("policy") || !body.get("policy").isJsonObject()) {
          throw new ApiException(400, "INVALID_ARGUMENT", "setIamPolicy needs a policy");
        }
        JsonObject requested = body.getAsJsonObject("policy");
        checkPermittedMembers(requested);
        return policy.set(requested);
      }
      default -> {
        return null;
      }
    }
  }

  void checkPermittedMembers(JsonObject policy) {
    if (!policy.has("bindings") || !policy.get("bindings").isJsonArray()) {
      return;
    }
    for (com.google.gson.JsonElement binding : policy.getAsJsonArray("bindings")) {
      JsonObject b = binding.isJsonObject() ? binding.getAsJsonObject() : new JsonObject();
      if (!b.has("members") || !b.get("members").isJsonArray()) {
        continue;
      }
      for (com.google.gson.JsonElement member : b.getAsJsonArray("members")) {
        if (!permittedMember.test(member.getAsString())) {
          JsonObject violation = new JsonObject();
          violation.addProperty("type", "constraints/iam.allowedPolicyMemberDomains");
          violation.addProperty("description", "User is not in permitted organization.");
          JsonArray violations = new JsonArray();
          violations.add(violation);
          JsonObject detail = new JsonObject();
          detail.addProperty("@type", "type.googleapis.com/google.rpc.PreconditionFailure");
          detail.add("violations", violations);
          JsonArray details = new JsonArray();
          details.add(detail);
          throw new ApiException(
              400,
              "FAILED_PRECONDITION",
              "One or more users named in the policy do not belong to a permitted customer,"
                  + " perhaps due to an organization policy.",
              details);
        }
      }
    }
  }

  // --- Cloud Functions -------------------------------------------------------------------------

  private JsonObject runtimes(String filter) {
    Map<String, String> wanted = new LinkedHashMap<>();
    if (filter != null) {
      for (String term : filter.split(" AND ")) {
        int eq = term.indexOf('=');
        if (eq > 0) {
          wanted.put(term.substring(0, eq).strip(), term.substring(eq + 1).strip());
        }
      }
    }
    JsonArray list = new JsonArray();
    for (String environment : List.of("GEN_1", "GEN_2")) {
      for (String name : RUNTIME_NAMES) {
        if (!wanted.getOrDefault("name", name).equals(name)
            || !wanted.getOrDefault("environment", environment).equals(environment)) {
          continue;
        }
        JsonObject runtime = new JsonObject();
        runtime.addProperty("name", name);
        runtime.addProperty("displayName", "Java " + name.substring(4));
        runtime.addProperty("stage", "GA");
        runtime.addProperty("environment", environment);
        list.add(runtime);
      }
    }
    JsonObject out = new JsonObject();
    out.add("runtimes", list);
    return out;
  }

  private JsonObject generateUploadUrl(String region, boolean v2) {
    String id = HexFormat.of().formatHex(randomBytes(12));
    uploads.put(id, workDir.resolve("upload-" + id + ".zip"));
    JsonObject out = new JsonObject();
    out.addProperty("uploadUrl", uri() + "upload/" + id);
    if (v2) {
      JsonObject storage = new JsonObject();
      storage.addProperty("bucket", "gcf-v2-uploads-" + projectNumber + "." + region);
      storage.addProperty("object", id + ".zip");
      out.add("storageSource", storage);
    }
    return out;
  }

  private Path uploadedSource(JsonObject config, boolean v2) {
    String id;
    if (v2) {
      JsonObject storage =
          Json.child(Json.child(Json.child(config, "buildConfig"), "source"), "storageSource");
      String object = Json.string(storage, "object");
      id = object == null ? null : object.replaceFirst("\\.zip$", "");
    } else {
      String url = Json.string(config, "sourceUploadUrl");
      id = url == null ? null : url.substring(url.lastIndexOf('/') + 1);
    }
    Path file = id == null ? null : uploads.get(id);
    if (file == null || !Files.isRegularFile(file)) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "The function's source is not an uploaded archive");
    }
    return file;
  }

  private JsonObject createV2(String region, String functionId, JsonObject body) {
    if (functionId == null || !functionId.matches("[a-z]([a-z0-9-]{0,61}[a-z0-9])?")) {
      throw new ApiException(400, "INVALID_ARGUMENT", "Invalid function id: " + functionId);
    }
    if (functions.containsKey(region + "/" + functionId)) {
      throw new ApiException(409, "ALREADY_EXISTS", "Function " + functionId + " already exists");
    }
    int generation = "GEN_1".equals(Json.string(body, "environment")) ? 1 : 2;
    if (generation == 1) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "the stand-in creates 1st gen functions through the v1 API");
    }
    JsonObject config = stripOutputFields(body.deepCopy());
    checkV2(config);
    Path source = uploadedSource(config, true);
    DeployedFunction function = new DeployedFunction(this, project, region, functionId, 2);
    functions.put(region + "/" + functionId, function);
    return deploy(function, config, source, true, "create");
  }

  private JsonObject createV1(String region, JsonObject body) {
    String name = Json.string(body, "name");
    String prefix = "projects/" + project + "/locations/" + region + "/functions/";
    if (name == null || !name.startsWith(prefix)) {
      throw new ApiException(400, "INVALID_ARGUMENT", "Invalid function name: " + name);
    }
    String functionId = name.substring(prefix.length());
    if (functions.containsKey(region + "/" + functionId)) {
      throw new ApiException(409, "ALREADY_EXISTS", "Function " + functionId + " already exists");
    }
    JsonObject config = stripOutputFields(body.deepCopy());
    checkV1(config);
    Path source = uploadedSource(config, false);
    DeployedFunction function = new DeployedFunction(this, project, region, functionId, 1);
    functions.put(region + "/" + functionId, function);
    return deploy(function, config, source, false, "create");
  }

  private JsonObject patch(DeployedFunction function, boolean v2, String mask, JsonObject body) {
    if (v2 && function.generation() == 1) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "the stand-in updates 1st gen functions through the v1 API");
    }
    JsonObject config = function.config().deepCopy();
    if (mask == null || mask.isBlank()) {
      throw new ApiException(400, "INVALID_ARGUMENT", "updateMask is required");
    }
    Json.applyMask(config, body, mask);
    stripOutputFields(config);
    if (v2) {
      checkV2(config);
    } else {
      checkV1(config);
    }
    return deploy(function, config, uploadedSource(config, v2), v2, "update");
  }

  private static JsonObject stripOutputFields(JsonObject config) {
    for (String field :
        List.of(
            "name",
            "state",
            "updateTime",
            "url",
            "environment",
            "status",
            "versionId",
            "updateTime",
            "buildId",
            "buildName")) {
      config.remove(field);
    }
    if (config.has("serviceConfig") && config.get("serviceConfig").isJsonObject()) {
      config.getAsJsonObject("serviceConfig").remove("uri");
      config.getAsJsonObject("serviceConfig").remove("service");
      config.getAsJsonObject("serviceConfig").remove("revision");
    }
    if (config.has("httpsTrigger") && config.get("httpsTrigger").isJsonObject()) {
      config.getAsJsonObject("httpsTrigger").remove("url");
    }
    return config;
  }

  private static void checkV2(JsonObject config) {
    JsonObject build = Json.child(config, "buildConfig");
    if (Json.string(build, "entryPoint") == null) {
      throw new ApiException(400, "INVALID_ARGUMENT", "buildConfig.entryPoint is required");
    }
    if (!RUNTIME_NAMES.contains(Json.string(build, "runtime"))) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "Invalid runtime: " + Json.string(build, "runtime"));
    }
    if (config.has("eventTrigger")) {
      throw new ApiException(400, "INVALID_ARGUMENT", "the stand-in runs HTTP functions only");
    }
    DeployedFunction.checkEnvironment(
        Json.child(config, "serviceConfig").get("environmentVariables"));
  }

  private static void checkV1(JsonObject config) {
    if (Json.string(config, "entryPoint") == null) {
      throw new ApiException(400, "INVALID_ARGUMENT", "entryPoint is required");
    }
    if (!RUNTIME_NAMES.contains(Json.string(config, "runtime"))) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "Invalid runtime: " + Json.string(config, "runtime"));
    }
    if (!config.has("httpsTrigger")) {
      throw new ApiException(400, "INVALID_ARGUMENT", "the stand-in runs HTTP functions only");
    }
    DeployedFunction.checkEnvironment(config.get("environmentVariables"));
  }

  private JsonObject deploy(
      DeployedFunction function, JsonObject config, Path source, boolean v2, String verb) {
    String name =
        v2
            ? "projects/"
                + project
                + "/locations/"
                + regionOf(function)
                + "/operations/operation-"
                + clock.millis()
                + "-"
                + HexFormat.of().formatHex(randomBytes(6))
            : "operations/"
                + Base64.getUrlEncoder().withoutPadding().encodeToString(randomBytes(18));
    JsonObject metadata = new JsonObject();
    String target =
        "projects/" + project + "/locations/" + regionOf(function) + "/functions/" + function.id();
    if (v2) {
      metadata.addProperty(
          "@type", "type.googleapis.com/google.cloud.functions.v2.OperationMetadata");
      metadata.addProperty("target", target);
      metadata.addProperty("verb", verb);
      metadata.addProperty("apiVersion", "v2");
      metadata.addProperty("createTime", clock.instant().toString());
      JsonArray stages = new JsonArray();
      for (String stage : List.of("BUILD", "SERVICE")) {
        JsonObject s = new JsonObject();
        s.addProperty("name", stage);
        s.addProperty("state", stage.equals("BUILD") ? "COMPLETE" : "IN_PROGRESS");
        stages.add(s);
      }
      metadata.add("stages", stages);
    } else {
      metadata.addProperty(
          "@type", "type.googleapis.com/google.cloud.functions.v1.OperationMetadataV1");
      metadata.addProperty("target", target);
      metadata.addProperty("type", verb.equals("create") ? "CREATE_FUNCTION" : "UPDATE_FUNCTION");
      metadata.addProperty("updateTime", clock.instant().toString());
    }
    Operation op = new Operation(name, metadata);
    operations.put(name, op);
    function.update(config, source, op);
    return op.toJson();
  }

  private String regionOf(DeployedFunction function) {
    return functions.entrySet().stream()
        .filter(e -> e.getValue() == function)
        .map(e -> e.getKey().substring(0, e.getKey().indexOf('/')))
        .findFirst()
        .orElseThrow();
  }

  /** The function as API version {@code apiVersion} (1 or 2) reports it. */
  JsonObject functionJson(DeployedFunction function, int apiVersion) {
    String region = regionOf(function);
    String name = "projects/" + project + "/locations/" + region + "/functions/" + function.id();
    JsonObject config = function.config().deepCopy();
    JsonObject out = new JsonObject();
    out.addProperty("name", name);
    if (apiVersion == 1) {
      config.entrySet().forEach(e -> out.add(e.getKey(), e.getValue()));
      JsonObject trigger = Json.child(out, "httpsTrigger");
      trigger.addProperty("url", function.functionsUrl());
      if (!trigger.has("securityLevel")) {
        trigger.addProperty("securityLevel", "SECURE_ALWAYS");
      }
      out.add("httpsTrigger", trigger);
      out.addProperty(
          "status", function.state().equals("DEPLOYING") ? "DEPLOY_IN_PROGRESS" : function.state());
      if (!out.has("serviceAccountEmail")) {
        out.addProperty("serviceAccountEmail", project + "@appspot.gserviceaccount.com");
      }
      out.addProperty("versionId", Integer.toString(function.revisions()));
      out.addProperty("updateTime", function.updateTime().toString());
      out.addProperty("ingressSettings", "ALLOW_ALL");
      return out;
    }
    if (function.generation() == 1) {
      // The v2 API shows 1st gen functions too, in its own shape.
      out.addProperty("environment", "GEN_1");
      JsonObject build = new JsonObject();
      build.addProperty("runtime", Json.string(config, "runtime"));
      build.addProperty("entryPoint", Json.string(config, "entryPoint"));
      out.add("buildConfig", build);
      JsonObject service = new JsonObject();
      if (config.has("environmentVariables")) {
        service.add("environmentVariables", config.get("environmentVariables"));
      }
      service.addProperty("uri", function.functionsUrl());
      out.add("serviceConfig", service);
    } else {
      config.entrySet().forEach(e -> out.add(e.getKey(), e.getValue()));
      out.addProperty("environment", "GEN_2");
      JsonObject service = Json.child(out, "serviceConfig");
      service.addProperty(
          "service", "projects/" + project + "/locations/" + region + "/services/" + function.id());
      service.addProperty("uri", function.runUrl());
      if (!service.has("serviceAccountEmail")) {
        service.addProperty("serviceAccountEmail", computeAccount());
      }
      service.addProperty("ingressSettings", "ALLOW_ALL");
      service.addProperty("allTrafficOnLatestRevision", true);
      service.addProperty(
          "revision", function.id() + "-" + String.format("%05d", function.revisions()));
      out.add("serviceConfig", service);
    }
    out.addProperty("state", function.state());
    out.addProperty("updateTime", function.updateTime().toString());
    out.addProperty("url", function.functionsUrl());
    return out;
  }

  // --- auth --------------------------------------------------------------------------------------

  /** The OAuth token endpoint: a JWT-bearer grant signed by a key this stand-in made. */
  private JsonObject token(String body) {
    Map<String, String> form = query(body);
    String assertion = form.get("assertion");
    if (!"urn:ietf:params:oauth:grant-type:jwt-bearer".equals(form.get("grant_type"))
        || assertion == null) {
      throw new ApiException(400, "INVALID_ARGUMENT", "invalid_grant");
    }
    String[] parts = assertion.split("\\.", -1);
    JsonObject claims;
    try {
      JsonObject header = Json.object(utf8(Base64.getUrlDecoder().decode(parts[0])));
      claims = Json.object(utf8(Base64.getUrlDecoder().decode(parts[1])));
      PublicKey key = keys.get(Json.string(header, "kid"));
      Signature verifier = Signature.getInstance("SHA256withRSA");
      verifier.initVerify(key);
      verifier.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
      if (key == null || !verifier.verify(Base64.getUrlDecoder().decode(parts[2]))) {
        throw new ApiException(400, "INVALID_ARGUMENT", "invalid_grant: bad signature");
      }
    } catch (GeneralSecurityException | RuntimeException e) {
      if (e instanceof ApiException api) {
        throw api;
      }
      throw new ApiException(400, "INVALID_ARGUMENT", "invalid_grant: unreadable assertion");
    }
    String email = Json.string(claims, "iss");
    JsonObject out = new JsonObject();
    String audience = Json.string(claims, "target_audience");
    if (audience != null) {
      out.addProperty("id_token", issuer.mint(email, audience));
      return out;
    }
    out.addProperty("access_token", newAccessToken(email));
    out.addProperty("expires_in", 3600);
    out.addProperty("token_type", "Bearer");
    return out;
  }

  /** The email of the caller's access token; 401 without a valid one. */
  private String authenticate(HttpExchange exchange) {
    String header = exchange.getRequestHeaders().getFirst("Authorization");
    String token = header != null && header.startsWith("Bearer ") ? header.substring(7) : "";
    String email = accessTokens.get(token);
    if (email == null) {
      throw new ApiException(
          401,
          "UNAUTHENTICATED",
          "Request had invalid authentication credentials. Expected OAuth 2 access token.");
    }
    return email;
  }

  private String newAccessToken(String email) {
    String accessToken = "ya29.standin-" + HexFormat.of().formatHex(randomBytes(16));
    accessTokens.put(accessToken, email);
    return accessToken;
  }

  private void checkProject(String requested) {
    if (!requested.equals(project) && !requested.equals(projectNumber)) {
      throw new ApiException(
          403,
          "PERMISSION_DENIED",
          "Permission denied on resource project " + requested + " (or it may not exist).");
    }
  }

  private String computeAccount() {
    return projectNumber + "-compute@developer.gserviceaccount.com";
  }

  private static Map<String, String> query(String query) {
    Map<String, String> out = new LinkedHashMap<>();
    if (query == null || query.isEmpty()) {
      return out;
    }
    for (String pair : query.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value =
          eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      out.putIfAbsent(key, value);
    }
    return out;
  }

  private static String utf8(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  private static byte[] randomBytes(int n) {
    byte[] bytes = new byte[n];
    RANDOM.nextBytes(bytes);
    return bytes;
  }

  static List<String> copy(List<String> list) {
    return new ArrayList<>(list);
  }
}
