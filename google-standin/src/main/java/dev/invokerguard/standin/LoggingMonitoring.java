package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The stand-in's Cloud Logging log-based metrics ({@code logging.googleapis.com/v2
 * projects.metrics}) and Cloud Monitoring alert policies ({@code monitoring.googleapis.com/v3
 * projects.alertPolicies}) and dashboards ({@code v1 projects.dashboards}), as far as {@code
 * deploy.sh --monitoring} drives them through gcloud 528. Thread-safe.
 *
 * <p>What gcloud 528 sends (recorded from the real CLI):
 *
 * <ul>
 *   <li>{@code gcloud logging metrics describe M}: {@code GET /v2/projects/P/metrics/M}; {@code
 *       create M --config-from-file}: {@code POST /v2/projects/P/metrics} with the file's fields
 *       and {@code name}; {@code update M --config-from-file}: {@code GET} the metric, then {@code
 *       PUT /v2/projects/P/metrics/M} with the metric read and the file's top-level fields over it.
 *   <li>{@code gcloud alpha monitoring policies list}: {@code GET /v3/projects/P/alertPolicies};
 *       {@code create --policy-from-file}: {@code POST} the policy; {@code update NAME
 *       --policy-from-file}: {@code PATCH /v3/projects/P/alertPolicies/ID} without an update mask
 *       (the policy is replaced).
 *   <li>{@code gcloud monitoring dashboards list}: {@code GET /v1/projects/P/dashboards}; {@code
 *       create}: {@code POST /v1/projects/P/dashboards?validateOnly=False}; {@code update ID}:
 *       {@code PATCH /v1/projects/P/dashboards/ID} with the config (and its {@code etag}).
 * </ul>
 *
 * <p>Kept like the real APIs: a metric's name is its ID (409 ALREADY_EXISTS on a second create, 404
 * NOT_FOUND for a missing one); the metric descriptor gets its {@code type} ({@code
 * logging.googleapis.com/user/M}) and, as proto3 JSON does, a label's default {@code valueType}
 * STRING is left out of answers; policies and dashboards get generated IDs (so they are found by
 * display name), policies' conditions get names and the policy creation and mutation records;
 * dashboards get an etag that changes on every write, and a write with a stale etag is 409 ABORTED.
 * A log match condition (a log-based alert) needs a filter, and its policy the notification rate
 * limit the API requires. Not imitated: filter syntax checks, list paging and filters, deletes.
 */
public final class LoggingMonitoring {
  private static final Pattern METRICS = Pattern.compile("/v2/projects/([^/]+)/metrics");
  private static final Pattern METRIC = Pattern.compile("/v2/projects/([^/]+)/metrics/([^/]+)");
  private static final Pattern POLICIES = Pattern.compile("/v3/projects/([^/]+)/alertPolicies");
  private static final Pattern POLICY =
      Pattern.compile("/v3/projects/([^/]+)/alertPolicies/([^/]+)");
  private static final Pattern DASHBOARDS = Pattern.compile("/v1/projects/([^/]+)/dashboards");
  private static final Pattern DASHBOARD =
      Pattern.compile("/v1/projects/([^/]+)/dashboards/([^/]+)");
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Predicate<String> projectExists;
  private final Clock clock;
  private final Map<String, JsonObject> metrics = new LinkedHashMap<>();
  private final Map<String, JsonObject> policies = new LinkedHashMap<>();
  private final Map<String, JsonObject> dashboards = new LinkedHashMap<>();

  LoggingMonitoring(Predicate<String> projectExists, Clock clock) {
    this.projectExists = projectExists;
    this.clock = clock;
  }

  /** The log-based metrics, as the API answers them, by metric name. */
  public synchronized Map<String, JsonObject> metrics() {
    Map<String, JsonObject> out = new LinkedHashMap<>();
    metrics.forEach((name, metric) -> out.put(name, metric.deepCopy()));
    return out;
  }

  /** The alert policies, as the API answers them, in creation order. */
  public synchronized List<JsonObject> alertPolicies() {
    return policies.values().stream().map(JsonObject::deepCopy).toList();
  }

  /** The dashboards, as the API answers them, in creation order. */
  public synchronized List<JsonObject> dashboards() {
    return dashboards.values().stream().map(JsonObject::deepCopy).toList();
  }

  /**
   * The answer to a request under {@code /logging/} or {@code /monitoring/}, or null when it is not
   * one known here.
   */
  synchronized Object route(GoogleStandIn.Request r) {
    String path = r.path();
    String method = r.method();
    Matcher m;
    if (r.api().equals("logging")) {
      if ((m = METRICS.matcher(path)).matches()) {
        checkProject(m.group(1));
        return switch (method) {
          case "GET" -> list("metrics", new ArrayList<>(metrics.values()));
          case "POST" -> createMetric(m.group(1), Json.object(r.body()));
          default -> null;
        };
      }
      if ((m = METRIC.matcher(path)).matches()) {
        checkProject(m.group(1));
        return switch (method) {
          case "GET" -> existingMetric(m.group(2)).deepCopy();
          case "PUT" -> updateMetric(m.group(1), m.group(2), Json.object(r.body()));
          default -> null;
        };
      }
      return null;
    }
    if ((m = POLICIES.matcher(path)).matches()) {
      checkProject(m.group(1));
      return switch (method) {
        case "GET" -> list("alertPolicies", new ArrayList<>(policies.values()));
        case "POST" -> createPolicy(m.group(1), Json.object(r.body()));
        default -> null;
      };
    }
    if ((m = POLICY.matcher(path)).matches()) {
      checkProject(m.group(1));
      String name = "projects/" + m.group(1) + "/alertPolicies/" + m.group(2);
      return switch (method) {
        case "GET" -> existing(policies, name, "alert policy").deepCopy();
        case "PATCH" ->
            patchPolicy(name, Json.object(r.body()), queryOf(r.query()).get("updateMask"));
        default -> null;
      };
    }
    if ((m = DASHBOARDS.matcher(path)).matches()) {
      checkProject(m.group(1));
      return switch (method) {
        case "GET" -> list("dashboards", new ArrayList<>(dashboards.values()));
        case "POST" ->
            createDashboard(
                m.group(1),
                Json.object(r.body()),
                "true".equalsIgnoreCase(queryOf(r.query()).get("validateOnly")));
        default -> null;
      };
    }
    if ((m = DASHBOARD.matcher(path)).matches()) {
      checkProject(m.group(1));
      String name = "projects/" + m.group(1) + "/dashboards/" + m.group(2);
      return switch (method) {
        case "GET" -> existing(dashboards, name, "dashboard").deepCopy();
        case "PATCH" -> updateDashboard(name, Json.object(r.body()));
        default -> null;
      };
    }
    return null;
  }

  // --- Logging: log-based metrics ---------------------------------------------------------------

  private JsonObject createMetric(String project, JsonObject body) {
    String name = Json.string(body, "name");
    if (name == null || name.isBlank()) {
      throw new ApiException(400, "INVALID_ARGUMENT", "metric name is required");
    }
    if (metrics.containsKey(name)) {
      throw new ApiException(409, "ALREADY_EXISTS", "Metric " + name + " already exists.");
    }
    JsonObject metric = storedMetric(project, name, body);
    metric.addProperty("createTime", clock.instant().toString());
    metric.addProperty("updateTime", clock.instant().toString());
    metrics.put(name, metric);
    return metric.deepCopy();
  }

  private JsonObject updateMetric(String project, String name, JsonObject body) {
    JsonObject before = existingMetric(name);
    if (body.has("name") && !name.equals(Json.string(body, "name"))) {
      throw new ApiException(400, "INVALID_ARGUMENT", "the metric's name cannot change");
    }
    JsonObject metric = storedMetric(project, name, body);
    metric.add("createTime", before.get("createTime"));
    metric.addProperty("updateTime", clock.instant().toString());
    metrics.put(name, metric);
    return metric.deepCopy();
  }

  private JsonObject existingMetric(String name) {
    JsonObject metric = metrics.get(name);
    if (metric == null) {
      throw new ApiException(404, "NOT_FOUND", "Metric " + name + " does not exist.");
    }
    return metric;
  }

  /** The metric as the API keeps it: its descriptor typed, default label value types left out. */
  private static JsonObject storedMetric(String project, String name, JsonObject body) {
    if (Json.string(body, "filter") == null || Json.string(body, "filter").isBlank()) {
      throw new ApiException(400, "INVALID_ARGUMENT", "A filter is required for metric " + name);
    }
    JsonObject metric = new JsonObject();
    metric.addProperty("name", name);
    for (String field : List.of("description", "filter", "labelExtractors", "bucketName")) {
      if (body.has(field)) {
        metric.add(field, body.get(field).deepCopy());
      }
    }
    JsonObject descriptor = Json.child(body, "metricDescriptor").deepCopy();
    String type = "logging.googleapis.com/user/" + name;
    descriptor.addProperty("name", "projects/" + project + "/metricDescriptors/" + type);
    descriptor.addProperty("type", type);
    if (!descriptor.has("metricKind")) {
      descriptor.addProperty("metricKind", "DELTA");
    }
    if (!descriptor.has("valueType")) {
      descriptor.addProperty("valueType", "INT64");
    }
    JsonObject extractors = Json.child(body, "labelExtractors");
    if (descriptor.has("labels") && descriptor.get("labels").isJsonArray()) {
      for (JsonElement label : descriptor.getAsJsonArray("labels")) {
        JsonObject l = label.getAsJsonObject();
        if (!extractors.has(Json.string(l, "key"))) {
          throw new ApiException(
              400,
              "INVALID_ARGUMENT",
              "label " + Json.string(l, "key") + " has no label extractor in metric " + name);
        }
        if ("STRING".equals(Json.string(l, "valueType"))) {
          l.remove("valueType");
        }
      }
    }
    metric.add("metricDescriptor", descriptor);
    return metric;
  }

  // --- Monitoring: alert policies ---------------------------------------------------------------

  private JsonObject createPolicy(String project, JsonObject body) {
    JsonObject policy = checkedPolicy(body);
    String name = "projects/" + project + "/alertPolicies/" + randomDigits(19);
    policy.addProperty("name", name);
    nameConditions(policy);
    policy.add("creationRecord", record());
    policy.add("mutationRecord", record());
    policies.put(name, policy);
    return policy.deepCopy();
  }

  private JsonObject patchPolicy(String name, JsonObject body, String updateMask) {
    JsonObject before = existing(policies, name, "alert policy");
    JsonObject policy;
    if (updateMask == null || updateMask.isBlank()) {
      policy = checkedPolicy(body);
    } else {
      policy = before.deepCopy();
      Json.applyMask(policy, body, updateMask);
      checkedPolicy(policy);
    }
    policy.addProperty("name", name);
    nameConditions(policy);
    policy.add("creationRecord", before.get("creationRecord"));
    policy.add("mutationRecord", record());
    policies.put(name, policy);
    return policy.deepCopy();
  }

  private static JsonObject checkedPolicy(JsonObject body) {
    JsonObject policy = body.deepCopy();
    if (Json.string(policy, "displayName") == null) {
      throw new ApiException(400, "INVALID_ARGUMENT", "An alert policy needs a displayName.");
    }
    if (!policy.has("conditions")
        || !policy.get("conditions").isJsonArray()
        || policy.getAsJsonArray("conditions").isEmpty()) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "An alert policy must have at least one condition.");
    }
    if (Json.string(policy, "combiner") == null) {
      throw new ApiException(400, "INVALID_ARGUMENT", "An alert policy needs a combiner.");
    }
    boolean logMatch = false;
    for (JsonElement condition : policy.getAsJsonArray("conditions")) {
      JsonObject matched = Json.child(condition.getAsJsonObject(), "conditionMatchedLog");
      if (condition.getAsJsonObject().has("conditionMatchedLog")) {
        // A log-based alert (LogMatch): a logging filter, optional label extractors.
        if (Json.string(matched, "filter") == null) {
          throw new ApiException(400, "INVALID_ARGUMENT", "A log match condition needs a filter.");
        }
        logMatch = true;
        continue;
      }
      JsonObject threshold = Json.child(condition.getAsJsonObject(), "conditionThreshold");
      if (Json.string(threshold, "filter") == null
          || Json.string(threshold, "comparison") == null) {
        throw new ApiException(
            400, "INVALID_ARGUMENT", "A threshold condition needs a filter and a comparison.");
      }
    }
    // AlertStrategy.notificationRateLimit: "Required for alert policies with a LogMatch condition".
    JsonObject rateLimit = Json.child(Json.child(policy, "alertStrategy"), "notificationRateLimit");
    if (logMatch && Json.string(rateLimit, "period") == null) {
      throw new ApiException(
          400,
          "INVALID_ARGUMENT",
          "An alert policy with a log match condition needs a notification rate limit.");
    }
    if (!policy.has("enabled")) {
      policy.addProperty("enabled", true);
    }
    return policy;
  }

  private void nameConditions(JsonObject policy) {
    String name = Json.string(policy, "name");
    for (JsonElement condition : policy.getAsJsonArray("conditions")) {
      JsonObject c = condition.getAsJsonObject();
      if (Json.string(c, "name") == null) {
        c.addProperty("name", name + "/conditions/" + randomDigits(19));
      }
    }
  }

  private JsonObject record() {
    JsonObject record = new JsonObject();
    record.addProperty("mutateTime", clock.instant().toString());
    record.addProperty("mutatedBy", "deployer");
    return record;
  }

  // --- Monitoring: dashboards -------------------------------------------------------------------

  private JsonObject createDashboard(String project, JsonObject body, boolean validateOnly) {
    JsonObject dashboard = checkedDashboard(body);
    dashboard.addProperty(
        "name", "projects/" + project + "/dashboards/" + HexFormat.of().formatHex(randomBytes(16)));
    dashboard.addProperty("etag", HexFormat.of().formatHex(randomBytes(16)));
    if (!validateOnly) {
      dashboards.put(Json.string(dashboard, "name"), dashboard);
    }
    return dashboard.deepCopy();
  }

  private JsonObject updateDashboard(String name, JsonObject body) {
    JsonObject before = existing(dashboards, name, "dashboard");
    String etag = Json.string(body, "etag");
    // An empty etag overwrites; a stale one is refused, so two writers do not lose an edit.
    if (etag != null && !etag.isEmpty() && !etag.equals(Json.string(before, "etag"))) {
      throw new ApiException(
          409,
          "ABORTED",
          "The dashboard "
              + name
              + " has been modified since it was read: etag "
              + etag
              + " is not its current one.");
    }
    JsonObject dashboard = checkedDashboard(body);
    dashboard.addProperty("name", name);
    dashboard.addProperty("etag", HexFormat.of().formatHex(randomBytes(16)));
    dashboards.put(name, dashboard);
    return dashboard.deepCopy();
  }

  private static JsonObject checkedDashboard(JsonObject body) {
    JsonObject dashboard = body.deepCopy();
    if (Json.string(dashboard, "displayName") == null) {
      throw new ApiException(400, "INVALID_ARGUMENT", "A dashboard needs a displayName.");
    }
    boolean layout =
        List.of("gridLayout", "mosaicLayout", "rowLayout", "columnLayout").stream()
            .anyMatch(dashboard::has);
    if (!layout) {
      throw new ApiException(400, "INVALID_ARGUMENT", "A dashboard needs a layout.");
    }
    return dashboard;
  }

  // --- shared -----------------------------------------------------------------------------------

  private void checkProject(String project) {
    if (!projectExists.test(project)) {
      throw new ApiException(
          403,
          "PERMISSION_DENIED",
          "Permission denied on resource project " + project + " (or it may not exist).");
    }
  }

  private static JsonObject existing(Map<String, JsonObject> store, String name, String kind) {
    JsonObject found = store.get(name);
    if (found == null) {
      throw new ApiException(404, "NOT_FOUND", "Requested " + kind + " " + name + " not found.");
    }
    return found;
  }

  /** A list answer; an empty list is an empty object, as Google's proto3 JSON answers it. */
  private static JsonObject list(String field, List<JsonObject> items) {
    JsonObject out = new JsonObject();
    if (!items.isEmpty()) {
      JsonArray array = new JsonArray();
      items.forEach(item -> array.add(item.deepCopy()));
      out.add(field, array);
    }
    return out;
  }

  private static Map<String, String> queryOf(String query) {
    Map<String, String> out = new LinkedHashMap<>();
    if (query != null) {
      for (String pair : query.split("&")) {
        int eq = pair.indexOf('=');
        if (eq > 0) {
          out.put(
              URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
              URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
      }
    }
    return out;
  }

  private static String randomDigits(int count) {
    StringBuilder out = new StringBuilder();
    out.append(1 + RANDOM.nextInt(9));
    while (out.length() < count) {
      out.append(RANDOM.nextInt(10));
    }
    return out.toString();
  }

  private static byte[] randomBytes(int count) {
    byte[] bytes = new byte[count];
    RANDOM.nextBytes(bytes);
    return bytes;
  }
}
