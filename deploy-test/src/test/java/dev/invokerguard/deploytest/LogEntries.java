package dev.invokerguard.deploytest;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.Map;

/**
 * A function's structured stdout line as Cloud Logging stores it: the JSON object becomes {@code
 * jsonPayload}, its special fields move to the entry ({@code severity}, {@code
 * logging.googleapis.com/trace} to {@code trace}, {@code spanId}, {@code trace_sampled}), and the
 * entry names the monitored resource the platform runs the function as (2nd gen: the Cloud Run
 * revision of the function's service; 1st gen: the function) and the platform's log.
 */
final class LogEntries {
  private static final Map<String, String> SPECIAL =
      Map.of(
          "severity", "severity",
          "logging.googleapis.com/trace", "trace",
          "logging.googleapis.com/spanId", "spanId",
          "logging.googleapis.com/trace_sampled", "traceSampled");

  private LogEntries() {}

  /** The entry of {@code line} written by function {@code name} of {@code generation}. */
  static JsonObject entry(String line, String project, String region, String name, int generation) {
    JsonObject payload = JsonParser.parseString(line).getAsJsonObject();
    JsonObject entry = new JsonObject();
    for (Map.Entry<String, String> special : SPECIAL.entrySet()) {
      JsonElement value = payload.remove(special.getKey());
      if (value != null) {
        entry.add(special.getValue(), value);
      }
    }
    if (!entry.has("severity")) {
      entry.addProperty("severity", "DEFAULT");
    }
    entry.add("jsonPayload", payload);
    JsonObject labels = new JsonObject();
    JsonObject resource = new JsonObject();
    labels.addProperty("project_id", project);
    if (generation == 2) {
      resource.addProperty("type", "cloud_run_revision");
      labels.addProperty("service_name", name);
      labels.addProperty("revision_name", name + "-00001-abc");
      labels.addProperty("configuration_name", name);
      labels.addProperty("location", region);
      entry.addProperty("logName", "projects/" + project + "/logs/run.googleapis.com%2Fstdout");
    } else {
      resource.addProperty("type", "cloud_function");
      labels.addProperty("function_name", name);
      labels.addProperty("region", region);
      entry.addProperty(
          "logName",
          "projects/" + project + "/logs/cloudfunctions.googleapis.com%2Fcloud-functions");
    }
    resource.add("labels", labels);
    entry.add("resource", resource);
    return entry;
  }
}
