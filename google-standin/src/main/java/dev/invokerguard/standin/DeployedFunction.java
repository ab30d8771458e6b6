package dev.invokerguard.standin;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.invokerguard.testing.ChildJvm;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * One function deployed to the stand-in: its configuration as the API reports it, its invoker IAM
 * policy (on the Cloud Run service for 2nd gen, on the function for 1st gen), the running instance
 * (the Functions Framework invoker in a child JVM serving the uploaded jar) and its front end.
 * Thread-safe.
 */
public final class DeployedFunction implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

  private final GoogleStandIn google;
  private final String project;
  private final String region;
  private final String id;
  private final int generation;
  private final IamPolicy policy;
  private final FrontEnd frontEnd;

  // Guarded by "this".
  private JsonObject config; // v2 shape for 2nd gen, v1 shape for 1st gen; output fields aside
  private String state = "DEPLOYING";
  private Instant updateTime;
  private int revisions;
  private ChildJvm instance;
  private volatile int instancePort;
  private final List<String> instanceLogs = new ArrayList<>();
  private final List<String> customAudiences = new ArrayList<>();
  private String invokerIamDisabled; // the service's annotation as written, or null

  DeployedFunction(GoogleStandIn google, String project, String region, String id, int generation) {
    this.google = google;
    this.project = project;
    this.region = region;
    this.id = id;
    this.generation = generation;
    this.policy = new IamPolicy(google.clock());
    this.updateTime = google.clock().instant();
    this.frontEnd =
        new FrontEnd(
            id,
            google.issuer(),
            google.clock(),
            google::propagationDelay,
            policy,
            invokerRole(),
            this::audiences,
            () -> instancePort,
            google.frontEndMode(),
            this::invokerIamCheck);
    if (generation == 2 && google.frontEndMode() == FrontEndMode.INVOKER_CHECK_OFF) {
      invokerIamDisabled = "True";
    }
  }

  /** The function's name, e.g. {@code invoker-guard}. */
  public String id() {
    return id;
  }

  /** The region it runs in, e.g. {@code europe-west1}. */
  public String region() {
    return region;
  }

  /** 1 or 2. */
  public int generation() {
    return generation;
  }

  /** The role that lets a caller through the front end. */
  public String invokerRole() {
    return generation == 2 ? "roles/run.invoker" : "roles/cloudfunctions.invoker";
  }

  /** The loopback address of the front end, to send requests to. */
  public URI frontEnd() {
    return frontEnd.uri();
  }

  /** {@code https://REGION-PROJECT.cloudfunctions.net/NAME}. */
  public String functionsUrl() {
    return "https://" + region + "-" + project + ".cloudfunctions.net/" + id;
  }

  /** The 2nd gen function's {@code serviceConfig.uri}, {@code https://NAME-HASH-RR.a.run.app}. */
  public String runUrl() {
    String code = "";
    for (String part : region.replaceAll("[0-9]", "").split("-")) {
      code += part.charAt(0);
    }
    return "https://" + id + "-" + google.projectHash() + "-" + code + ".a.run.app";
  }

  /**
   * The 2nd gen function's deterministic Cloud Run URL, {@code
   * https://NAME-PROJECT_NUMBER.REGION.run.app}, which it answers at as well.
   */
  public String deterministicRunUrl() {
    return "https://" + id + "-" + google.projectNumber() + "." + region + ".run.app";
  }

  /**
   * Every audience the front end accepts: the URLs the function answers at (for 2nd gen: the
   * cloudfunctions.net URL, the deterministic run.app URL, {@code serviceConfig.uri}, last), then
   * the custom audiences set on its service.
   */
  public List<String> audiences() {
    if (generation != 2) {
      return List.of(functionsUrl());
    }
    List<String> out = new ArrayList<>(List.of(functionsUrl(), deterministicRunUrl(), runUrl()));
    out.addAll(customAudiences());
    return List.copyOf(out);
  }

  /** The service's custom audiences (2nd gen), as {@code gcloud run services update} set them. */
  public synchronized List<String> customAudiences() {
    return List.copyOf(customAudiences);
  }

  synchronized void customAudiences(List<String> audiences) {
    customAudiences.clear();
    customAudiences.addAll(audiences);
  }

  /**
   * Whether the front end checks callers (token and invoker role): false once the Cloud Run
   * service's {@code run.googleapis.com/invoker-iam-disabled} annotation is true (2nd gen only).
   */
  public synchronized boolean invokerIamCheck() {
    return !"true".equalsIgnoreCase(invokerIamDisabled);
  }

  /** The service's {@code run.googleapis.com/invoker-iam-disabled} annotation, or null. */
  synchronized String invokerIamDisabledAnnotation() {
    return invokerIamDisabled;
  }

  synchronized void invokerIamDisabledAnnotation(String value) {
    invokerIamDisabled = value;
  }

  /**
   * Makes the front end forward to {@code port} as if an instance listened there: for tests of the
   * front end with a backend of their own (a function added with {@link
   * GoogleStandIn#addIdleFunction}).
   */
  void serveWith(int port) {
    instancePort = port;
  }

  /** How many requests the front end let through to the function. */
  public int forwardedCount() {
    return frontEnd.forwardedCount();
  }

  /** What the front end answered or forwarded, one line per request, in order. */
  public List<String> frontEndLog() {
    return frontEnd.decisions().stream()
        .map(d -> (d.status() == 0 ? "forwarded" : Integer.toString(d.status())) + " " + d.why())
        .toList();
  }

  /** How many times the function was (re)started with a new configuration. */
  public synchronized int revisions() {
    return revisions;
  }

  /** The environment variables of the deployment as the API holds them. */
  public synchronized Map<String, String> environmentVariables() {
    JsonObject vars =
        generation == 2
            ? Json.child(Json.child(config, "serviceConfig"), "environmentVariables")
            : Json.child(config, "environmentVariables");
    Map<String, String> out = new LinkedHashMap<>();
    vars.entrySet().forEach(e -> out.put(e.getKey(), e.getValue().getAsString()));
    return out;
  }

  /** Whether {@code member} holds the invoker role (unconditionally) now. */
  public boolean grantsInvoker(String member) {
    return policy.grants(invokerRole(), member, google.clock().instant());
  }

  /** stdout and stderr of every instance started so far, for failure messages. */
  public synchronized String instanceLogs() {
    List<String> logs = new ArrayList<>(instanceLogs);
    if (instance != null) {
      logs.add(instance.stdout() + instance.stderr());
    }
    return String.join("\n---\n", logs);
  }

  IamPolicy policy() {
    return policy;
  }

  synchronized String state() {
    return state;
  }

  synchronized JsonObject config() {
    return config;
  }

  /**
   * Takes a new configuration and starts it in the background; the old instance serves meanwhile.
   */
  synchronized void update(JsonObject newConfig, Path source, Operation operation) {
    config = newConfig;
    state = "DEPLOYING";
    revisions++;
    int revision = revisions;
    Map<String, String> env = new LinkedHashMap<>(environmentVariables());
    String entryPoint =
        generation == 2
            ? Json.string(Json.child(config, "buildConfig"), "entryPoint")
            : Json.string(config, "entryPoint");
    Thread starter =
        new Thread(
            () -> start(revision, entryPoint, env, source, operation),
            "deploy-" + id + "-" + revision);
    starter.setDaemon(true);
    starter.start();
  }

  private void start(
      int revision, String entryPoint, Map<String, String> env, Path source, Operation op) {
    ChildJvm started = null;
    try {
      Path dir = google.workDir().resolve(id).resolve("revision-" + revision);
      List<Path> jars = unpackJars(source, dir);
      if (jars.isEmpty()) {
        // Google would build the source with Maven here; the stand-in runs packaged jars only.
        throw new IllegalStateException(
            "Build failed: the uploaded source holds no .jar at its top level");
      }
      int port = ChildJvm.freePort();
      ChildJvm.Builder builder =
          ChildJvm.functionsInvoker(entryPoint, port)
              .classpath(google.invokerClasspath())
              .args("--classpath", String.join(":", jars.stream().map(Path::toString).toList()));
      builder.env(env);
      builder.env(google.platformEnvironment(entryPoint, port));
      started = builder.start();
      started.awaitPort(port, START_TIMEOUT);
      ChildJvm old;
      synchronized (this) {
        if (revision != revisions) {
          throw new IllegalStateException("superseded by a newer deployment");
        }
        old = instance;
        instance = started;
        instancePort = port;
        state = "ACTIVE";
        updateTime = google.clock().instant();
      }
      if (old != null) {
        synchronized (this) {
          instanceLogs.add(old.stdout() + old.stderr());
        }
        old.close();
      }
      op.succeed(google.functionJson(this, op.name().startsWith("operations/") ? 1 : 2));
    } catch (RuntimeException | IOException e) {
      String logs = "";
      if (started != null) {
        logs = started.stdout() + started.stderr();
        started.close();
      }
      synchronized (this) {
        instanceLogs.add(logs);
        state = instance == null ? "FAILED" : "ACTIVE";
      }
      op.fail(
          3,
          "Could not create or update Cloud Run service "
              + id
              + ", Container Healthcheck failed: "
              + e.getMessage());
    }
  }

  synchronized Instant updateTime() {
    return updateTime;
  }

  private static List<Path> unpackJars(Path zip, Path dir) throws IOException {
    Files.createDirectories(dir);
    try (InputStream in = Files.newInputStream(zip);
        ZipInputStream entries = new ZipInputStream(in)) {
      for (ZipEntry entry; (entry = entries.getNextEntry()) != null; ) {
        Path target = dir.resolve(entry.getName()).normalize();
        if (!target.startsWith(dir)) {
          throw new IllegalStateException("zip entry outside the source: " + entry.getName());
        }
        if (entry.isDirectory()) {
          Files.createDirectories(target);
        } else {
          Files.createDirectories(target.getParent());
          Files.copy(entries, target);
        }
      }
    }
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().toList();
    }
  }

  static void checkEnvironment(JsonElement vars) {
    if (vars == null || !vars.isJsonObject()) {
      return;
    }
    for (String name : vars.getAsJsonObject().keySet()) {
      if (name.startsWith("X_GOOGLE_")
          || List.of("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION").contains(name)
          || !name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
        throw new ApiException(
            400,
            "INVALID_ARGUMENT",
            "Environment variable name '" + name + "' is reserved or not a valid name");
      }
    }
  }

  @Override
  public synchronized void close() {
    frontEnd.close();
    if (instance != null) {
      instance.close();
      instance = null;
      instancePort = 0;
    }
  }

  static UncheckedIOException unchecked(IOException e) {
    return new UncheckedIOException(e);
  }
}
