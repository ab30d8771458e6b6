package dev.invokerguard.deployplan;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The monitoring of the function ({@code --monitoring}): five log-based metrics (Logging API v2),
 * four alert policies (Monitoring API v3; two of them are {@link DriftAlerts}) and a dashboard
 * (Monitoring API v1), each compared with what gcloud read so that only what differs is written and
 * a second run changes nothing. Metrics are found by name, alert policies and the dashboard by
 * display name (the API gives them generated IDs).
 */
final class Monitoring {
  /** The metric of every key-health line, labelled by its state. */
  static final String KEY_HEALTH = "key-health";

  /** The metrics: name suffix to the log lines it counts (docs/FUNCTION.md's log lines). */
  static final Map<String, String> METRICS = metrics();

  private final Options options;

  Monitoring(Options options) {
    this.options = options;
  }

  private static Map<String, String> metrics() {
    Map<String, String> metrics = new LinkedHashMap<>();
    metrics.put("allowed", "jsonPayload.decision=\"allow\"");
    metrics.put("denied", "jsonPayload.decision=\"deny\"");
    metrics.put("key-fetch-failures", "jsonPayload.keyHealth=\"FETCH_FAILED\"");
    metrics.put(
        "keys-unavailable",
        "(jsonPayload.keyHealth=\"UNUSABLE\" OR jsonPayload.reason=\"KEYS_UNAVAILABLE\")");
    metrics.put(KEY_HEALTH, KEY_HEALTH_LINES);
    return java.util.Collections.unmodifiableMap(metrics);
  }

  /** Every key-health line (docs/FUNCTION.md, Key health lines). */
  static final String KEY_HEALTH_LINES =
      "(jsonPayload.keyHealth=\"LOADED\" OR jsonPayload.keyHealth=\"FETCH_FAILED\" OR"
          + " jsonPayload.keyHealth=\"STALE_IN_USE\" OR jsonPayload.keyHealth=\"UNUSABLE\" OR"
          + " jsonPayload.keyHealth=\"RECOVERED\")";

  /**
   * The reads {@link #plan} judges, all made before any change: each metric (absent when it does
   * not exist), the alert policies and the dashboards.
   */
  List<String> reads() {
    String project = "--project=" + options.project;
    List<String> reads = new ArrayList<>();
    for (String suffix : METRICS.keySet()) {
      String name = metricName(suffix);
      reads.add(
          Reads.read(
              "metrics",
              name,
              List.of("logging", "metrics", "describe", name, project, "--format=json"),
              Reads.NOT_FOUND_ONLY));
    }
    reads.add(
        Reads.read(
            "policies",
            null,
            List.of("alpha", "monitoring", "policies", "list", project, "--format=json"),
            Reads.NOT_FOUND_ONLY));
    reads.add(
        Reads.read(
            "dashboards",
            null,
            List.of("monitoring", "dashboards", "list", project, "--format=json"),
            Reads.NOT_FOUND_ONLY));
    return reads;
  }

  String metricName(String suffix) {
    return options.name + "-" + suffix;
  }

  /**
   * The log entries of this function only: the monitored resource the platform writes its stdout
   * under (2nd gen: the Cloud Run revision of the service named after the function; 1st gen: the
   * function).
   */
  String logScope() {
    return options.gen1
        ? "resource.type=\"cloud_function\" AND resource.labels.function_name=\""
            + options.name
            + "\""
        : "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\""
            + options.name
            + "\"";
  }

  private String resourceType() {
    return options.gen1 ? "cloud_function" : "cloud_run_revision";
  }

  /** The Monitoring filter of a metric's time series for this function. */
  String seriesFilter(String suffix) {
    return "metric.type=\"logging.googleapis.com/user/"
        + metricName(suffix)
        + "\" AND resource.type=\""
        + resourceType()
        + "\"";
  }

  /**
   * The LogMetric for one metric: a counter; allowed and denied are labelled with the decision's
   * reason and caller (absent on lines without one: no token, or not verified).
   */
  JsonObject metricConfig(String suffix) {
    String name = options.name;
    String description =
        switch (suffix) {
          case "allowed" ->
              "Requests the invoker-guard of " + name + " allowed, by reason and caller";
          case "denied" ->
              "Requests the invoker-guard of "
                  + name
                  + " denied (401, 403, 503), by reason and caller";
          case "key-fetch-failures" ->
              "Runs of failed fetches of Google's signing keys by the guard of "
                  + name
                  + " (one per run)";
          case KEY_HEALTH ->
              "Key-health lines of the guard of "
                  + name
                  + ", by state (one per state change of its signing keys)";
          default ->
              "Lines of the guard of "
                  + name
                  + " saying no usable signing keys: key set UNUSABLE, or a request denied with"
                  + " KEYS_UNAVAILABLE (503)";
        };
    boolean labelled = suffix.equals("allowed") || suffix.equals("denied");
    JsonObject config = new JsonObject();
    config.addProperty("description", description);
    config.addProperty("filter", logScope() + " AND " + METRICS.get(suffix));
    JsonObject descriptor = new JsonObject();
    descriptor.addProperty("metricKind", "DELTA");
    descriptor.addProperty("valueType", "INT64");
    descriptor.addProperty("unit", "1");
    if (labelled) {
      JsonArray labels = new JsonArray();
      labels.add(
          label("reason", "the decision reason (ALLOWED, CALLER_NOT_ALLOWED, EXPIRED, ...)"));
      labels.add(label("caller", "the verified caller email (empty when there was none)"));
      descriptor.add("labels", labels);
    }
    config.add("metricDescriptor", descriptor);
    if (labelled) {
      JsonObject extractors = new JsonObject();
      extractors.addProperty("reason", "EXTRACT(jsonPayload.reason)");
      extractors.addProperty("caller", "EXTRACT(jsonPayload.caller)");
      config.add("labelExtractors", extractors);
    }
    if (suffix.equals(KEY_HEALTH)) {
      JsonArray labels = new JsonArray();
      labels.add(label("state", "the key health state (LOADED, FETCH_FAILED, STALE_IN_USE, ...)"));
      descriptor.add("labels", labels);
      JsonObject extractors = new JsonObject();
      extractors.addProperty("state", "EXTRACT(jsonPayload.keyHealth)");
      config.add("labelExtractors", extractors);
    }
    return config;
  }

  private static JsonObject label(String key, String description) {
    JsonObject label = new JsonObject();
    label.addProperty("key", key);
    label.addProperty("valueType", "STRING");
    label.addProperty("description", description);
    return label;
  }

  /**
   * The alert policies: keys unavailable, denials rising. Each documentation says what to do;
   * docs/FUNCTION.md has the whole runbook.
   */
  List<JsonObject> alertPolicies() {
    String name = options.name;
    String window = options.alertWindowMinutes * 60 + "s";
    JsonObject keys =
        policy(
            "invoker-guard " + name + ": signing keys unavailable",
            "The guard of "
                + name
                + " has no usable Google signing keys: requests get 503 KEYS_UNAVAILABLE. Check"
                + " that the function reaches https://www.googleapis.com/oauth2/v3/certs (egress,"
                + " VPC connector, firewall), KEY_FETCH_TIMEOUT_SECONDS, and the function logs"
                + " (jsonPayload.keyHealth, fetchOutcome). Runbook: docs/FUNCTION.md, Monitoring.",
            "keys-unavailable lines in the last " + window,
            seriesFilter("keys-unavailable"),
            0,
            window);
    JsonObject denials =
        policy(
            "invoker-guard " + name + ": denials rising",
            "More than "
                + options.deniedThreshold
                + " requests to "
                + name
                + " were denied by its guard within "
                + window
                + ". Read the deny lines by reason and caller (jsonPayload.decision=\"deny\"):"
                + " CALLER_NOT_ALLOWED names an account holding the invoker role but not"
                + " allowlisted; token reasons point at a client minting tokens wrongly;"
                + " KEYS_UNAVAILABLE is the other alert. Runbook: docs/FUNCTION.md, Monitoring.",
            "more than " + options.deniedThreshold + " denials in " + window,
            seriesFilter("denied"),
            options.deniedThreshold,
            window);
    List<JsonObject> policies = new ArrayList<>(List.of(keys, denials));
    policies.addAll(new DriftAlerts(options, this).policies());
    return policies;
  }

  /** What every policy has: name, documentation (markdown), the function's label, channels. */
  static JsonObject policyShell(Options options, String displayName, String documentation) {
    JsonObject policy = new JsonObject();
    policy.addProperty("displayName", displayName);
    JsonObject doc = new JsonObject();
    doc.addProperty("mimeType", "text/markdown");
    doc.addProperty("content", documentation);
    policy.add("documentation", doc);
    JsonObject userLabels = new JsonObject();
    userLabels.addProperty("invoker-guard-function", options.name);
    policy.add("userLabels", userLabels);
    policy.addProperty("combiner", "OR");
    policy.addProperty("enabled", true);
    JsonArray channels = new JsonArray();
    options.channels.forEach(channels::add);
    policy.add("notificationChannels", channels);
    return policy;
  }

  private JsonObject policy(
      String displayName,
      String documentation,
      String conditionName,
      String filter,
      int threshold,
      String window) {
    JsonObject policy = policyShell(options, displayName, documentation);
    JsonObject aggregation = new JsonObject();
    aggregation.addProperty("alignmentPeriod", window);
    aggregation.addProperty("perSeriesAligner", "ALIGN_SUM");
    aggregation.addProperty("crossSeriesReducer", "REDUCE_SUM");
    JsonArray aggregations = new JsonArray();
    aggregations.add(aggregation);
    JsonObject trigger = new JsonObject();
    trigger.addProperty("count", 1);
    JsonObject condition = new JsonObject();
    condition.addProperty("filter", filter);
    condition.addProperty("comparison", "COMPARISON_GT");
    condition.addProperty("thresholdValue", threshold);
    condition.addProperty("duration", "0s");
    condition.add("trigger", trigger);
    condition.add("aggregations", aggregations);
    JsonObject conditions = new JsonObject();
    conditions.addProperty("displayName", conditionName);
    conditions.add("conditionThreshold", condition);
    JsonArray list = new JsonArray();
    list.add(conditions);
    policy.add("conditions", list);
    return policy;
  }

  /**
   * The dashboard: requests allowed and denied by reason and caller, the key health counters, the
   * key-health lines by state, and the deny and key-health lines themselves.
   */
  JsonObject dashboard() {
    JsonArray tiles = new JsonArray();
    tiles.add(
        chart("Allowed requests by caller (per minute)", "allowed", "metric.label.caller", 0, 0));
    tiles.add(
        chart("Denied requests by reason (per minute)", "denied", "metric.label.reason", 24, 0));
    tiles.add(
        chart("Denied requests by caller (per minute)", "denied", "metric.label.caller", 0, 16));
    JsonObject keys =
        chart(
            "Signing keys: fetch failure runs and keys-unavailable lines",
            "key-fetch-failures",
            null,
            24,
            16);
    JsonArray dataSets =
        keys.getAsJsonObject("widget").getAsJsonObject("xyChart").getAsJsonArray("dataSets");
    JsonObject unavailable = dataSets.get(0).getAsJsonObject().deepCopy();
    unavailable
        .getAsJsonObject("timeSeriesQuery")
        .getAsJsonObject("timeSeriesFilter")
        .addProperty("filter", seriesFilter("keys-unavailable"));
    dataSets.add(unavailable);
    tiles.add(keys);
    tiles.add(
        chart("Key-health lines by state (per minute)", KEY_HEALTH, "metric.label.state", 0, 32));
    JsonObject logsPanel = new JsonObject();
    JsonArray resources = new JsonArray();
    resources.add("projects/" + options.project);
    logsPanel.add("resourceNames", resources);
    logsPanel.addProperty(
        "filter",
        logScope()
            + " AND (jsonPayload.decision=\"deny\" OR jsonPayload.keyHealth=\"LOADED\" OR"
            + " jsonPayload.keyHealth=\"FETCH_FAILED\" OR jsonPayload.keyHealth=\"STALE_IN_USE\""
            + " OR jsonPayload.keyHealth=\"UNUSABLE\" OR jsonPayload.keyHealth=\"RECOVERED\")");
    JsonObject widget = new JsonObject();
    widget.addProperty("title", "Deny and key-health lines");
    widget.add("logsPanel", logsPanel);
    tiles.add(tile(0, 48, 48, widget));

    JsonObject layout = new JsonObject();
    layout.addProperty("columns", 48);
    layout.add("tiles", tiles);
    JsonObject dashboard = new JsonObject();
    dashboard.addProperty("displayName", "invoker-guard " + options.name);
    JsonObject labels = new JsonObject();
    labels.addProperty("invoker-guard", "");
    dashboard.add("labels", labels);
    dashboard.add("mosaicLayout", layout);
    return dashboard;
  }

  private JsonObject chart(String title, String suffix, String groupBy, int x, int y) {
    JsonObject aggregation = new JsonObject();
    aggregation.addProperty("alignmentPeriod", "60s");
    aggregation.addProperty("perSeriesAligner", "ALIGN_SUM");
    aggregation.addProperty("crossSeriesReducer", "REDUCE_SUM");
    if (groupBy != null) {
      JsonArray fields = new JsonArray();
      fields.add(groupBy);
      aggregation.add("groupByFields", fields);
    }
    JsonObject filter = new JsonObject();
    filter.addProperty("filter", seriesFilter(suffix));
    filter.add("aggregation", aggregation);
    JsonObject query = new JsonObject();
    query.add("timeSeriesFilter", filter);
    JsonObject dataSet = new JsonObject();
    dataSet.addProperty("plotType", "STACKED_BAR");
    dataSet.addProperty("targetAxis", "Y1");
    dataSet.add("timeSeriesQuery", query);
    JsonArray dataSets = new JsonArray();
    dataSets.add(dataSet);
    JsonObject chartOptions = new JsonObject();
    chartOptions.addProperty("mode", "COLOR");
    JsonObject xyChart = new JsonObject();
    xyChart.add("chartOptions", chartOptions);
    xyChart.add("dataSets", dataSets);
    JsonObject widget = new JsonObject();
    widget.addProperty("title", title);
    widget.add("xyChart", xyChart);
    return tile(x, y, 24, widget);
  }

  private static JsonObject tile(int x, int y, int width, JsonObject widget) {
    JsonObject tile = new JsonObject();
    tile.addProperty("xPos", x);
    tile.addProperty("yPos", y);
    tile.addProperty("width", width);
    tile.addProperty("height", 16);
    tile.add("widget", widget);
    return tile;
  }

  /**
   * The plan: every metric, alert policy and the dashboard created, updated, or said to be up to
   * date, and the summary line.
   *
   * @param metrics each metric's name to what describe printed, or null when it does not exist
   * @param policies what {@code alpha monitoring policies list --format=json} printed
   * @param dashboards what {@code monitoring dashboards list --format=json} printed
   */
  Plan plan(JsonObject metrics, String policies, String dashboards) {
    Plan plan = new Plan();
    plan.info("")
        .info(
            "Monitoring of "
                + options.name
                + ": log-based metrics, alert policies, dashboard (docs/FUNCTION.md, Monitoring)");
    String project = "--project=" + options.project;
    int changes = 0;
    int unchanged = 0;
    for (String suffix : METRICS.keySet()) {
      String name = metricName(suffix);
      JsonObject config = metricConfig(suffix);
      JsonElement read = metrics == null ? null : metrics.get(name);
      Optional<JsonObject> existing =
          read == null || read.isJsonNull() ? Optional.empty() : Optional.of(parseObject(read));
      if (existing.isPresent() && normalizeMetric(existing.get()).equals(normalizeMetric(config))) {
        plan.info("Log-based metric " + name + " is up to date");
        unchanged++;
        continue;
      }
      String verb = existing.isPresent() ? "update" : "create";
      changes++;
      plan.action(
          (existing.isPresent() ? "Updating" : "Creating") + " log-based metric " + name,
          List.of("logging", "metrics", verb, name, project, "--config-from-file=@CONFIG"),
          (existing.isPresent() ? "updating" : "creating") + " log-based metric " + name,
          config);
    }

    JsonArray existingPolicies = list(policies, "gcloud alpha monitoring policies list");
    for (JsonObject policy : alertPolicies()) {
      String display = policy.get("displayName").getAsString();
      List<JsonObject> found = named(existingPolicies, display);
      if (found.isEmpty()) {
        changes++;
        plan.action(
            "Creating alert policy '" + display + "'",
            List.of(
                "alpha", "monitoring", "policies", "create", project, "--policy-from-file=@CONFIG"),
            "creating alert policy '" + display + "'",
            policy);
        continue;
      }
      if (found.size() > 1) {
        plan.warn(
            found.size()
                + " alert policies are named '"
                + display
                + "': only the first is kept up to date");
      }
      JsonObject existing = found.get(0);
      if (normalizePolicy(existing).equals(normalizePolicy(policy))) {
        plan.info("Alert policy '" + display + "' is up to date");
        unchanged++;
        continue;
      }
      String name = Deployment.text(existing, "name").orElse("");
      changes++;
      plan.action(
          "Updating alert policy '" + display + "' (" + name + ")",
          List.of(
              "alpha",
              "monitoring",
              "policies",
              "update",
              name,
              project,
              "--policy-from-file=@CONFIG"),
          "updating alert policy '" + display + "'",
          policy);
    }

    JsonObject dashboard = dashboard();
    String display = dashboard.get("displayName").getAsString();
    List<JsonObject> found = named(list(dashboards, "gcloud monitoring dashboards list"), display);
    if (found.isEmpty()) {
      changes++;
      plan.action(
          "Creating dashboard '" + display + "'",
          List.of("monitoring", "dashboards", "create", project, "--config-from-file=@CONFIG"),
          "creating dashboard '" + display + "'",
          dashboard);
    } else if (normalizeDashboard(found.get(0)).equals(normalizeDashboard(dashboard))) {
      plan.info("Dashboard '" + display + "' is up to date");
      unchanged++;
    } else {
      // The etag read makes the update refused if someone changed the dashboard since.
      dashboard.addProperty("etag", Deployment.text(found.get(0), "etag").orElse(""));
      String name = Deployment.text(found.get(0), "name").orElse("");
      changes++;
      plan.action(
          "Updating dashboard '" + display + "' (" + name + ")",
          List.of(
              "monitoring",
              "dashboards",
              "update",
              name.substring(name.lastIndexOf('/') + 1),
              project,
              "--config-from-file=@CONFIG"),
          "updating dashboard '" + display + "'",
          dashboard);
    }

    if (changes == 0) {
      plan.info("Monitoring already up to date: no change (" + unchanged + " checked).");
    } else if (options.dryRun) {
      plan.info("Dry run: " + changes + " monitoring change(s) planned, none made.");
    } else {
      plan.info(
          "Monitoring: " + changes + " change(s) attempted, " + unchanged + " already up to date.");
    }
    return plan;
  }

  // --- comparison: the fields deploy.sh sets, with the API's defaults filled in
  // -------------------

  /** An unset label valueType is STRING, so that an unchanged metric compares equal. */
  static JsonObject normalizeMetric(JsonObject metric) {
    JsonObject descriptor = object(metric.get("metricDescriptor"));
    List<JsonObject> labels = new ArrayList<>();
    for (JsonElement element : array(descriptor.get("labels"))) {
      JsonObject label = object(element);
      JsonObject normalized = new JsonObject();
      normalized.add("key", orNull(label, "key"));
      normalized.add("valueType", or(label, "valueType", new JsonPrimitive("STRING")));
      normalized.add("description", or(label, "description", new JsonPrimitive("")));
      labels.add(normalized);
    }
    labels.sort(Comparator.comparing(label -> label.get("key").toString()));
    JsonArray sorted = new JsonArray();
    labels.forEach(sorted::add);
    JsonObject out = new JsonObject();
    out.add("description", or(metric, "description", new JsonPrimitive("")));
    out.add("filter", orNull(metric, "filter"));
    out.add("labelExtractors", or(metric, "labelExtractors", new JsonObject()));
    out.add("metricKind", orNull(descriptor, "metricKind"));
    out.add("valueType", orNull(descriptor, "valueType"));
    out.add("unit", or(descriptor, "unit", new JsonPrimitive("")));
    out.add("labels", sorted);
    return out;
  }

  static JsonObject normalizePolicy(JsonObject policy) {
    JsonObject out = new JsonObject();
    out.add("displayName", orNull(policy, "displayName"));
    out.add("combiner", orNull(policy, "combiner"));
    out.add("enabled", or(policy, "enabled", new JsonPrimitive(true)));
    out.add("documentation", or(policy, "documentation", new JsonObject()));
    out.add("userLabels", or(policy, "userLabels", new JsonObject()));
    List<String> channels = new ArrayList<>();
    array(policy.get("notificationChannels")).forEach(channel -> channels.add(channel.toString()));
    channels.sort(Comparator.naturalOrder());
    JsonArray sortedChannels = new JsonArray();
    channels.forEach(channel -> sortedChannels.add(JsonParser.parseString(channel)));
    out.add("notificationChannels", sortedChannels);
    JsonArray conditions = new JsonArray();
    for (JsonElement element : array(policy.get("conditions"))) {
      JsonObject condition = object(element);
      JsonObject item = new JsonObject();
      item.add("displayName", orNull(condition, "displayName"));
      if (condition.has("conditionMatchedLog")) {
        JsonObject matched = object(condition.get("conditionMatchedLog"));
        JsonObject normalized = new JsonObject();
        normalized.add("filter", orNull(matched, "filter"));
        normalized.add("labelExtractors", or(matched, "labelExtractors", new JsonObject()));
        item.add("conditionMatchedLog", normalized);
      } else {
        item.add(
            "conditionThreshold", normalizeThreshold(object(condition.get("conditionThreshold"))));
      }
      conditions.add(item);
    }
    out.add("conditions", conditions);
    out.add("alertStrategy", normalizeStrategy(object(policy.get("alertStrategy"))));
    return numbersAsDoubles(out).getAsJsonObject();
  }

  private static JsonObject normalizeThreshold(JsonObject threshold) {
    JsonObject normalized = new JsonObject();
    normalized.add("filter", orNull(threshold, "filter"));
    normalized.add("comparison", orNull(threshold, "comparison"));
    normalized.add("thresholdValue", or(threshold, "thresholdValue", new JsonPrimitive(0)));
    normalized.add("duration", or(threshold, "duration", new JsonPrimitive("0s")));
    normalized.add("aggregations", or(threshold, "aggregations", new JsonArray()));
    // A ratio condition: absent on the others (compared as empty, as the API leaves them out).
    normalized.add("denominatorFilter", or(threshold, "denominatorFilter", new JsonPrimitive("")));
    normalized.add(
        "denominatorAggregations", or(threshold, "denominatorAggregations", new JsonArray()));
    JsonObject once = new JsonObject();
    once.addProperty("count", 1);
    normalized.add("trigger", or(threshold, "trigger", once));
    return normalized;
  }

  /**
   * The strategy fields deploy.sh sets: a log-based alert's rate limit and auto close. Only a
   * log-based alert (one with a rate limit) has its auto close compared: on the others deploy.sh
   * sets none and the API may answer its default.
   */
  private static JsonObject normalizeStrategy(JsonObject strategy) {
    JsonObject normalized = new JsonObject();
    JsonObject rateLimit = object(strategy.get("notificationRateLimit"));
    normalized.add("notificationRateLimit", rateLimit);
    if (!rateLimit.isEmpty()) {
      normalized.add("autoClose", or(strategy, "autoClose", new JsonPrimitive("")));
    }
    return normalized;
  }

  static JsonObject normalizeDashboard(JsonObject dashboard) {
    JsonObject out = new JsonObject();
    out.add("displayName", orNull(dashboard, "displayName"));
    out.add("labels", or(dashboard, "labels", new JsonObject()));
    out.add("mosaicLayout", orNull(dashboard, "mosaicLayout"));
    return numbersAsDoubles(out).getAsJsonObject();
  }

  /** Numbers compared by value, as jq compares them (7 equals 7.0). */
  private static JsonElement numbersAsDoubles(JsonElement element) {
    if (element.isJsonObject()) {
      JsonObject out = new JsonObject();
      element
          .getAsJsonObject()
          .entrySet()
          .forEach(e -> out.add(e.getKey(), numbersAsDoubles(e.getValue())));
      return out;
    }
    if (element.isJsonArray()) {
      JsonArray out = new JsonArray();
      element.getAsJsonArray().forEach(item -> out.add(numbersAsDoubles(item)));
      return out;
    }
    if (element.isJsonPrimitive() && element.getAsJsonPrimitive().isNumber()) {
      return new JsonPrimitive(element.getAsDouble());
    }
    return element;
  }

  private static JsonElement orNull(JsonObject object, String key) {
    return or(object, key, JsonNull.INSTANCE);
  }

  /** The value, or {@code fallback} when absent or null. */
  private static JsonElement or(JsonObject object, String key, JsonElement fallback) {
    JsonElement value = object.get(key);
    return value == null || value.isJsonNull() ? fallback : value;
  }

  private static JsonObject object(JsonElement element) {
    return element != null && element.isJsonObject() ? element.getAsJsonObject() : new JsonObject();
  }

  private static JsonArray array(JsonElement element) {
    return element != null && element.isJsonArray() ? element.getAsJsonArray() : new JsonArray();
  }

  private static List<JsonObject> named(JsonArray list, String displayName) {
    List<JsonObject> found = new ArrayList<>();
    for (JsonElement element : list) {
      if (element.isJsonObject()
          && Deployment.text(element.getAsJsonObject(), "displayName")
              .orElse("")
              .equals(displayName)) {
        found.add(element.getAsJsonObject());
      }
    }
    return found;
  }

  /** What a list command printed as a JSON list (an empty list may print nothing at all). */
  private static JsonArray list(String printed, String what) {
    try {
      JsonElement list =
          JsonParser.parseString(printed == null || printed.isBlank() ? "[]" : printed);
      if (list.isJsonArray()) {
        return list.getAsJsonArray();
      }
    } catch (JsonParseException e) {
      // Falls through to the refusal below.
    }
    throw new IllegalStateException(what + " did not print a JSON list");
  }

  /** A metric as describe printed it; what does not parse compares unequal (it is rewritten). */
  private static JsonObject parseObject(JsonElement read) {
    try {
      JsonElement parsed = JsonParser.parseString(read.getAsString());
      return parsed.isJsonObject() ? parsed.getAsJsonObject() : new JsonObject();
    } catch (JsonParseException | IllegalStateException | UnsupportedOperationException e) {
      return new JsonObject();
    }
  }
}
