package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cloud Run Admin API v1 (the Knative serving shape, {@code
 * /apis/serving.knative.dev/v1/namespaces/NS/services/NAME}) for the Cloud Run service behind each
 * 2nd gen function: the get and replace that {@code gcloud run services update
 * --add-custom-audiences} sends, and the read of the service's latest revision it makes on the way.
 * The service's custom audiences (the annotation {@value #CUSTOM_AUDIENCES}, a JSON list) are kept
 * in the function, whose front end accepts tokens minted for them, as Cloud Run does; so is its
 * invoker IAM check ({@value #INVOKER_IAM_DISABLED}, what {@code gcloud run services update
 * --no-invoker-iam-check} writes): while it is true the front end forwards every request unjudged.
 *
 * <p>This API is regional: gcloud derives its host by putting the region before the overridden host
 * ({@code europe-west1-127.0.0.1:PORT}); the stand-in serves it as gcloud's HTTP proxy, and reads
 * the region from that host ({@link #regionOf}). A replace is answered with the service already
 * Ready (observed generation equal to the new generation), so gcloud's wait ends at once; a stale
 * {@code metadata.resourceVersion} is 409, as Cloud Run's optimistic concurrency has it. Nothing
 * restarts: a replace that changes the template (gcloud always sets a new {@code
 * client.knative.dev/nonce} label) would make a new revision on Google; here the latest revision
 * stays the function's.
 */
final class RunServices {
  /** The service annotation that holds the custom audiences, a JSON list of strings. */
  static final String CUSTOM_AUDIENCES = "run.googleapis.com/custom-audiences";

  /**
   * The service annotation that switches the invoker IAM check off when true: what {@code gcloud
   * run services update --[no-]invoker-iam-check} 528 writes ({@code "True"} or {@code "False"},
   * Python's spelling, recorded from the real CLI).
   */
  static final String INVOKER_IAM_DISABLED = "run.googleapis.com/invoker-iam-disabled";

  private static final Pattern SERVICE =
      Pattern.compile("/apis/serving\\.knative\\.dev/v1/namespaces/([^/]+)/services/([^/:]+)");
  private static final Pattern REVISION =
      Pattern.compile("/apis/serving\\.knative\\.dev/v1/namespaces/([^/]+)/revisions/([^/:]+)");
  private static final Pattern SERVICE_IAM =
      Pattern.compile("/v1/projects/([^/]+)/locations/([^/]+)/services/([^/:]+):(\\w+)");
  private static final Pattern REGION = Pattern.compile("[a-z]+(-[a-z]+)+[0-9]+");

  /** What the API keeps of one service besides the function: what the last replace wrote. */
  private static final class State {
    long generation = 1;
    JsonObject annotations = new JsonObject();
    JsonObject templateMetadata = new JsonObject();
    final Instant created;

    State(Instant created) {
      this.created = created;
    }
  }

  private final String project;
  private final String projectNumber;
  private final Clock clock;
  private final BiFunction<String, String, DeployedFunction> functions;
  private final ResourcePolicies policies;
  private final Map<DeployedFunction, State> states = new ConcurrentHashMap<>();

  /**
   * @param functions the function named (region, name), or null
   * @param policies the IAM methods of the services' policies
   */
  RunServices(
      String project,
      String projectNumber,
      Clock clock,
      BiFunction<String, String, DeployedFunction> functions,
      ResourcePolicies policies) {
    this.project = Objects.requireNonNull(project);
    this.projectNumber = Objects.requireNonNull(projectNumber);
    this.clock = Objects.requireNonNull(clock);
    this.functions = Objects.requireNonNull(functions);
    this.policies = Objects.requireNonNull(policies);
  }

  /**
   * The region of a regional host gcloud derived from the stand-in's ({@code REGION-AUTHORITY}), or
   * null for the stand-in's own host or anything else.
   */
  static String regionOf(String host, String authority) {
    if (host == null || !host.endsWith("-" + authority)) {
      return null;
    }
    String region = host.substring(0, host.length() - authority.length() - 1);
    return REGION.matcher(region).matches() ? region : null;
  }

  /**
   * The answer to a request under {@code /run}, or null when this API does not know it: the Knative
   * service and revision on the regional host of {@code region} (null for any other host), and the
   * service's IAM policy (v1 {@code projects/.../services/NAME:getIamPolicy}) on any.
   */
  JsonObject route(GoogleStandIn.Request r, String region) {
    Matcher m;
    if ((m = SERVICE_IAM.matcher(r.path())).matches()) {
      ProjectApis.checkProject(m.group(1), project, projectNumber);
      DeployedFunction function = functions.apply(m.group(2), m.group(3));
      if (function == null || function.generation() != 2) {
        throw new ApiException(
            404, "NOT_FOUND", "Resource '" + m.group(3) + "' of kind 'SERVICE' not found");
      }
      return policies.answer(function.policy(), m.group(4), r);
    }
    if (region == null) {
      return null;
    }
    if ((m = SERVICE.matcher(r.path())).matches()) {
      DeployedFunction function = find(region, m.group(1), m.group(2), "SERVICE");
      return switch (r.method()) {
        case "GET" -> service(function, region);
        case "PUT" -> replace(function, region, Json.object(r.body()));
        default -> null;
      };
    }
    if ((m = REVISION.matcher(r.path())).matches() && r.method().equals("GET")) {
      String name = m.group(2);
      int dash = name.lastIndexOf('-');
      DeployedFunction function =
          find(region, m.group(1), dash < 0 ? name : name.substring(0, dash), "REVISION");
      if (!name.equals(revisionName(function))) {
        throw notFound(name, "REVISION", region);
      }
      return revision(function, region);
    }
    return null;
  }

  private DeployedFunction find(String region, String namespace, String name, String kind) {
    ProjectApis.checkProject(namespace, project, projectNumber);
    DeployedFunction function = functions.apply(region, name);
    if (function == null || function.generation() != 2) {
      throw notFound(name, kind, region);
    }
    return function;
  }

  private ApiException notFound(String name, String kind, String region) {
    return new ApiException(
        404,
        "NOT_FOUND",
        "Resource '"
            + name
            + "' of kind '"
            + kind
            + "' of API version 'serving.knative.dev/v1' in region '"
            + region
            + "' in project '"
            + project
            + "' does not exist.");
  }

  private State state(DeployedFunction function) {
    return states.computeIfAbsent(function, f -> new State(clock.instant()));
  }

  /** PUT: takes the annotations (custom audiences among them) of the service written. */
  private JsonObject replace(DeployedFunction function, String region, JsonObject body) {
    JsonObject metadata = Json.child(body, "metadata");
    if (!"Service".equals(Json.string(body, "kind"))
        || !"serving.knative.dev/v1".equals(Json.string(body, "apiVersion"))) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "apiVersion must be serving.knative.dev/v1, kind Service");
    }
    if (!function.id().equals(Json.string(metadata, "name"))) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "metadata.name must be the name of the service replaced");
    }
    JsonObject annotations = Json.child(metadata, "annotations");
    List<String> audiences = customAudiences(annotations);
    String invokerIamDisabled = invokerIamDisabled(annotations);
    synchronized (this) {
      State state = state(function);
      String resourceVersion = Json.string(metadata, "resourceVersion");
      if (resourceVersion != null && !resourceVersion.equals(resourceVersion(state))) {
        throw new ApiException(
            409,
            "ABORTED",
            "Conflict for resource '"
                + function.id()
                + "': version '"
                + resourceVersion
                + "' was specified but current version is '"
                + resourceVersion(state)
                + "'.");
      }
      state.generation++;
      state.annotations = annotations.deepCopy();
      state.annotations.remove(CUSTOM_AUDIENCES);
      state.annotations.remove(INVOKER_IAM_DISABLED);
      function.invokerIamDisabledAnnotation(invokerIamDisabled);
      state.templateMetadata =
          Json.child(Json.child(Json.child(body, "spec"), "template"), "metadata").deepCopy();
      function.customAudiences(audiences);
    }
    return service(function, region);
  }

  private static List<String> customAudiences(JsonObject annotations) {
    String value = Json.string(annotations, CUSTOM_AUDIENCES);
    if (value == null) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    try {
      JsonElement parsed = JsonParser.parseString(value);
      if (!parsed.isJsonArray()) {
        throw new JsonParseException("not a list");
      }
      for (JsonElement audience : parsed.getAsJsonArray()) {
        if (!audience.isJsonPrimitive()
            || !audience.getAsJsonPrimitive().isString()
            || audience.getAsString().isBlank()) {
          throw new JsonParseException("not a string");
        }
        if (!out.contains(audience.getAsString())) {
          out.add(audience.getAsString());
        }
      }
    } catch (JsonParseException e) {
      throw new ApiException(
          400,
          "INVALID_ARGUMENT",
          "metadata.annotations[" + CUSTOM_AUDIENCES + "] must be a JSON list of audiences");
    }
    return out;
  }

  /** The annotation's value, null when absent; 400 unless a boolean. */
  private static String invokerIamDisabled(JsonObject annotations) {
    String value = Json.string(annotations, INVOKER_IAM_DISABLED);
    if (value != null && !value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false")) {
      throw new ApiException(
          400,
          "INVALID_ARGUMENT",
          "metadata.annotations[" + INVOKER_IAM_DISABLED + "] must be true or false");
    }
    return value;
  }

  private static String resourceVersion(State state) {
    return "AAY" + Long.toString(state.generation, 36).toUpperCase(java.util.Locale.ROOT);
  }

  private static String revisionName(DeployedFunction function) {
    return function.id() + "-" + String.format("%05d", function.revisions());
  }

  /** The service as Cloud Run v1 reports it, Ready. */
  private synchronized JsonObject service(DeployedFunction function, String region) {
    State state = state(function);
    String revision = revisionName(function);
    JsonObject metadata = new JsonObject();
    metadata.addProperty("name", function.id());
    metadata.addProperty("namespace", projectNumber);
    metadata.addProperty(
        "selfLink",
        "/apis/serving.knative.dev/v1/namespaces/" + projectNumber + "/services/" + function.id());
    metadata.addProperty("uid", Integer.toHexString(System.identityHashCode(function)));
    metadata.addProperty("resourceVersion", resourceVersion(state));
    metadata.addProperty("generation", state.generation);
    metadata.addProperty("creationTimestamp", state.created.toString());
    JsonObject labels = new JsonObject();
    labels.addProperty("cloud.googleapis.com/location", region);
    labels.addProperty("goog-managed-by", "cloudfunctions");
    metadata.add("labels", labels);
    JsonObject annotations = state.annotations.deepCopy();
    annotations.addProperty("run.googleapis.com/ingress", "all");
    List<String> audiences = function.customAudiences();
    if (!audiences.isEmpty()) {
      JsonArray list = new JsonArray();
      audiences.forEach(list::add);
      annotations.addProperty(CUSTOM_AUDIENCES, list.toString());
    }
    String invokerIamDisabled = function.invokerIamDisabledAnnotation();
    if (invokerIamDisabled != null) {
      annotations.addProperty(INVOKER_IAM_DISABLED, invokerIamDisabled);
    }
    metadata.add("annotations", annotations);

    JsonObject template = new JsonObject();
    template.add("metadata", state.templateMetadata.deepCopy());
    template.add("spec", revisionSpec(function));
    JsonObject traffic = new JsonObject();
    traffic.addProperty("percent", 100);
    traffic.addProperty("latestRevision", true);
    JsonArray trafficList = new JsonArray();
    trafficList.add(traffic);
    JsonObject spec = new JsonObject();
    spec.add("template", template);
    spec.add("traffic", trafficList);

    JsonObject status = new JsonObject();
    status.addProperty("observedGeneration", state.generation);
    status.add("conditions", readyConditions());
    status.addProperty("latestReadyRevisionName", revision);
    status.addProperty("latestCreatedRevisionName", revision);
    status.addProperty("url", function.runUrl());
    JsonObject address = new JsonObject();
    address.addProperty("url", function.runUrl());
    status.add("address", address);
    JsonObject served = traffic.deepCopy();
    served.addProperty("revisionName", revision);
    JsonArray servedList = new JsonArray();
    servedList.add(served);
    status.add("traffic", servedList);

    JsonObject out = new JsonObject();
    out.addProperty("apiVersion", "serving.knative.dev/v1");
    out.addProperty("kind", "Service");
    out.add("metadata", metadata);
    out.add("spec", spec);
    out.add("status", status);
    return out;
  }

  private JsonObject revision(DeployedFunction function, String region) {
    JsonObject metadata = new JsonObject();
    metadata.addProperty("name", revisionName(function));
    metadata.addProperty("namespace", projectNumber);
    JsonObject labels = new JsonObject();
    labels.addProperty("serving.knative.dev/service", function.id());
    labels.addProperty("serving.knative.dev/configuration", function.id());
    labels.addProperty("cloud.googleapis.com/location", region);
    metadata.add("labels", labels);
    metadata.add("annotations", new JsonObject());
    JsonObject status = new JsonObject();
    status.addProperty("observedGeneration", 1);
    status.add("conditions", readyConditions());
    JsonObject out = new JsonObject();
    out.addProperty("apiVersion", "serving.knative.dev/v1");
    out.addProperty("kind", "Revision");
    out.add("metadata", metadata);
    out.add("spec", revisionSpec(function));
    out.add("status", status);
    return out;
  }

  private JsonObject revisionSpec(DeployedFunction function) {
    JsonObject port = new JsonObject();
    port.addProperty("name", "http1");
    port.addProperty("containerPort", 8080);
    JsonArray ports = new JsonArray();
    ports.add(port);
    JsonObject container = new JsonObject();
    container.addProperty(
        "image",
        "europe-docker.pkg.dev/" + project + "/gcf-artifacts/" + function.id() + ":version_1");
    container.add("ports", ports);
    JsonArray containers = new JsonArray();
    containers.add(container);
    JsonObject spec = new JsonObject();
    spec.addProperty("containerConcurrency", 1);
    spec.addProperty("timeoutSeconds", 60);
    spec.add("containers", containers);
    return spec;
  }

  private JsonArray readyConditions() {
    JsonArray conditions = new JsonArray();
    for (String type : List.of("Ready", "ConfigurationsReady", "RoutesReady")) {
      JsonObject condition = new JsonObject();
      condition.addProperty("type", type);
      condition.addProperty("status", "True");
      condition.addProperty("lastTransitionTime", clock.instant().toString());
      conditions.add(condition);
    }
    return conditions;
  }
}
