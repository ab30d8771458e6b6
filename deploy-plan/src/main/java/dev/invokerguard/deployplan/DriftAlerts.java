package dev.invokerguard.deployplan;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.List;

/**
 * The two alerts that tell operators between deploys what deploy.sh would otherwise only find on
 * its next run (issue 21, item 5): a change of the function's or its service's IAM policy or
 * invoker check, read from the Admin Activity audit log (a log-based alert: the entry names who did
 * it), and signing keys that stay degraded ({@code FETCH_FAILED} / {@code STALE_IN_USE} with no
 * recovery) for {@link #KEYS_DEGRADED_MINUTES} minutes. docs/FUNCTION.md, Monitoring, gives the
 * sources and the runbook.
 */
final class DriftAlerts {
  /** How long the keys may stay degraded before the alert fires. */
  static final int KEYS_DEGRADED_MINUTES = 15;

  /**
   * The sliding window the key-health lines are summed over: a little longer than the duration, so
   * that the failure's own line is still in it when the duration has passed (with a window equal to
   * the duration the condition would hold for just under the duration and never fire).
   */
  static final int KEYS_DEGRADED_WINDOW_MINUTES = KEYS_DEGRADED_MINUTES + 2;

  /** A log-based alert notifies at most once per this period (the API requires one). */
  static final String NOTIFICATION_PERIOD = "300s";

  /** An incident of a log-based alert closes itself after this long without a new entry. */
  static final String AUTO_CLOSE = "1800s";

  /**
   * The methods of run.googleapis.com that change the service's IAM policy or its invoker check (an
   * update or replace of the service carries {@code invokerIamDisabled} / the annotation {@code
   * run.googleapis.com/invoker-iam-disabled}). Both API versions' names, as Cloud Run's audit
   * logging page lists them, and the short names its older version listed.
   */
  static final List<String> RUN_METHODS =
      List.of(
          "google.cloud.run.v1.Services.SetIamPolicy",
          "google.cloud.run.v2.Services.SetIamPolicy",
          "google.iam.v1.IAMPolicy.SetIamPolicy",
          "google.cloud.run.v1.Services.ReplaceService",
          "google.cloud.run.v2.Services.UpdateService",
          "Services.SetIamPolicy",
          "Services.ReplaceService");

  /**
   * The methods of cloudfunctions.googleapis.com that change the function's IAM policy: the bare
   * {@code SetIamPolicy} the Functions audit logging page lists, and the qualified names of each
   * API version.
   */
  static final List<String> FUNCTIONS_METHODS =
      List.of(
          "SetIamPolicy",
          "google.cloud.functions.v1.CloudFunctionsService.SetIamPolicy",
          "google.cloud.functions.v2.FunctionService.SetIamPolicy",
          "google.iam.v1.IAMPolicy.SetIamPolicy");

  private final Options options;
  private final Monitoring monitoring;

  DriftAlerts(Options options, Monitoring monitoring) {
    this.options = options;
    this.monitoring = monitoring;
  }

  /** Both policies, in the order deploy.sh creates them. */
  List<JsonObject> policies() {
    return List.of(accessChanged(), keysDegraded());
  }

  String accessChangedName() {
    return "invoker-guard " + options.name + ": access settings changed";
  }

  String keysDegradedName() {
    return "invoker-guard " + options.name + ": signing keys degraded";
  }

  /**
   * The Admin Activity entries that change who may invoke the function: its IAM policy (1st and 2nd
   * gen, Cloud Functions API) or its Cloud Run service's IAM policy or configuration (2nd gen). The
   * service is matched by its monitored resource or its resource name (v2 and v1 forms), the
   * function by its monitored resource or resource name. Reads (GetIamPolicy) are Data Access
   * entries, in another log, and are named by no method here either.
   */
  String auditFilter() {
    String project = options.project;
    String name = options.name;
    String function = "projects/" + project + "/locations/" + options.region + "/functions/" + name;
    String functions =
        "(protoPayload.serviceName=\"cloudfunctions.googleapis.com\" AND ("
            + "(resource.type=\"cloud_function\" AND resource.labels.function_name=\""
            + name
            + "\") OR protoPayload.resourceName=\""
            + function
            + "\") AND "
            + anyOf("protoPayload.methodName", FUNCTIONS_METHODS)
            + ")";
    String scope =
        "logName=\"projects/" + project + "/logs/cloudaudit.googleapis.com%2Factivity\" AND ";
    if (options.gen1) {
      return scope + functions;
    }
    String service = "projects/" + project + "/locations/" + options.region + "/services/" + name;
    String run =
        "(protoPayload.serviceName=\"run.googleapis.com\" AND ("
            + "(resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\""
            + name
            + "\") OR protoPayload.resourceName=\""
            + service
            + "\" OR protoPayload.resourceName=\"namespaces/"
            + project
            + "/services/"
            + name
            + "\") AND "
            + anyOf("protoPayload.methodName", RUN_METHODS)
            + ")";
    return scope + "(" + functions + " OR " + run + ")";
  }

  private static String anyOf(String field, List<String> values) {
    return "("
        + String.join(" OR ", values.stream().map(value -> field + "=\"" + value + "\"").toList())
        + ")";
  }

  /** The log-based alert on {@link #auditFilter()}: who did it and what, as labels. */
  JsonObject accessChanged() {
    String name = options.name;
    JsonObject matched = new JsonObject();
    matched.addProperty("filter", auditFilter());
    JsonObject extractors = new JsonObject();
    extractors.addProperty("principal", "EXTRACT(protoPayload.authenticationInfo.principalEmail)");
    extractors.addProperty("method", "EXTRACT(protoPayload.methodName)");
    extractors.addProperty("resource", "EXTRACT(protoPayload.resourceName)");
    matched.add("labelExtractors", extractors);
    JsonObject condition = new JsonObject();
    condition.addProperty("displayName", "IAM policy or service of " + name + " changed");
    condition.add("conditionMatchedLog", matched);

    JsonObject policy =
        Monitoring.policyShell(
            options,
            accessChangedName(),
            "Someone (label principal) changed the IAM policy of "
                + name
                + " or of its Cloud Run service, or updated the service (which can switch its"
                + " invoker IAM check off). deploy.sh's own runs and deploys show up here too."
                + " If it was not a deploy of yours: find the entry in the Admin Activity audit"
                + " log (label method, resource), then rerun deploy.sh with the same flags: it"
                + " revokes public and non-allowlisted invokers and switches the invoker IAM"
                + " check back on. Runbook: docs/FUNCTION.md, Monitoring.");
    JsonArray conditions = new JsonArray();
    conditions.add(condition);
    policy.add("conditions", conditions);
    JsonObject rateLimit = new JsonObject();
    rateLimit.addProperty("period", NOTIFICATION_PERIOD);
    JsonObject strategy = new JsonObject();
    strategy.add("notificationRateLimit", rateLimit);
    strategy.addProperty("autoClose", AUTO_CLOSE);
    policy.add("alertStrategy", strategy);
    return policy;
  }

  /**
   * Keys degraded: of the guard's key-health lines in the sliding window of {@value
   * #KEYS_DEGRADED_WINDOW_MINUTES} minutes, all say {@code FETCH_FAILED} or {@code STALE_IN_USE}
   * (none says {@code LOADED}, {@code UNUSABLE} or {@code RECOVERED}), and that for {@value
   * #KEYS_DEGRADED_MINUTES} minutes: a ratio of the key-health metric by state. The lines are
   * written once per state change, so a failure that recovers within the duration never fires, and
   * one that does not fires once. A healthy line in the window before the failure (a start-up's
   * {@code LOADED}, a {@code RECOVERED} a few minutes before) keeps it from firing: docs say so.
   */
  JsonObject keysDegraded() {
    String name = options.name;
    String duration = KEYS_DEGRADED_MINUTES * 60 + "s";
    String window = KEYS_DEGRADED_WINDOW_MINUTES * 60 + "s";
    String series = monitoring.seriesFilter(Monitoring.KEY_HEALTH);
    JsonObject threshold = new JsonObject();
    threshold.addProperty(
        "filter", series + " AND metric.label.state=one_of(\"FETCH_FAILED\",\"STALE_IN_USE\")");
    threshold.add("aggregations", sum(window));
    threshold.addProperty("denominatorFilter", series);
    threshold.add("denominatorAggregations", sum(window));
    threshold.addProperty("comparison", "COMPARISON_GE");
    threshold.addProperty("thresholdValue", 1);
    threshold.addProperty("duration", duration);
    JsonObject trigger = new JsonObject();
    trigger.addProperty("count", 1);
    threshold.add("trigger", trigger);
    JsonObject condition = new JsonObject();
    condition.addProperty(
        "displayName",
        "only FETCH_FAILED/STALE_IN_USE key-health lines for " + duration + ", no recovery");
    condition.add("conditionThreshold", threshold);

    JsonObject policy =
        Monitoring.policyShell(
            options,
            keysDegradedName(),
            "The guard of "
                + name
                + " has failed to fetch Google's signing keys for "
                + KEYS_DEGRADED_MINUTES
                + " minutes without recovering. The keys in use still serve, but once they pass"
                + " their staleness bound requests get 503 KEYS_UNAVAILABLE. Check that the"
                + " function reaches https://www.googleapis.com/oauth2/v3/certs (egress, VPC"
                + " connector, firewall, DNS) and the key-health lines (jsonPayload.keyHealth,"
                + " fetchOutcome, usableForSeconds: the time left). Runbook: docs/FUNCTION.md,"
                + " Monitoring.");
    JsonArray conditions = new JsonArray();
    conditions.add(condition);
    policy.add("conditions", conditions);
    return policy;
  }

  private static JsonArray sum(String window) {
    JsonObject aggregation = new JsonObject();
    aggregation.addProperty("alignmentPeriod", window);
    aggregation.addProperty("perSeriesAligner", "ALIGN_SUM");
    aggregation.addProperty("crossSeriesReducer", "REDUCE_SUM");
    JsonArray aggregations = new JsonArray();
    aggregations.add(aggregation);
    return aggregations;
  }
}
