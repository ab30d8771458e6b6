package dev.invokerguard.deployplan;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * What the planner tells deploy.sh, one line each (docs/DEPLOY.md, "The plan"):
 *
 * <ul>
 *   <li>{@code NAME=VALUE}: set the shell variable NAME; {@code NAME+=VALUE}: append to the array
 *       NAME. Values are one line.
 *   <li>{@code @info TEXT}: a progress line on stdout; {@code @warn TEXT}: a warning on stderr;
 *       {@code @fail TEXT}: a failure recorded (listed at the end, exit 1).
 *   <li>{@code @action JSON}: one gcloud call that changes something, {@code {"say": "...",
 *       "gcloud": ["functions", "deploy", ...], "failure": "...", "config": {...}}}: deploy.sh
 *       prints {@code say}, runs {@code gcloud} (in a dry run prints the JSON instead), and on
 *       failure records {@code failure} and goes on ({@code refusal.failure} instead when gcloud's
 *       error output matches the extended regular expression {@code refusal.match}). {@code
 *       config}, when present, is written to a file first and {@code @CONFIG} in the arguments
 *       replaced by its path. {@link #actionJson} alone makes the JSON, for a variable (the deploy,
 *       run by deploy.sh when the plan says so).
 * </ul>
 */
final class Plan {
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
  private final List<String> lines = new ArrayList<>();

  Plan set(String name, String value) {
    lines.add(name + "=" + oneLine(value));
    return this;
  }

  Plan add(String name, String value) {
    lines.add(name + "+=" + oneLine(value));
    return this;
  }

  Plan addAll(String name, List<String> values) {
    values.forEach(value -> add(name, value));
    return this;
  }

  Plan info(String text) {
    lines.add("@info " + oneLine(text));
    return this;
  }

  Plan warn(String text) {
    lines.add("@warn " + oneLine(text));
    return this;
  }

  /** A failure to record: deploy.sh prints it, lists it at the end and exits 1. */
  Plan fail(String text) {
    lines.add("@fail " + oneLine(text));
    return this;
  }

  /** One gcloud call that changes something; {@code failure} is what is recorded if it fails. */
  Plan action(String say, List<String> gcloud, String failure, JsonObject config) {
    return action(actionJson(say, gcloud, failure, config, null, null));
  }

  /** One action as {@link #actionJson} made it. */
  Plan action(String json) {
    lines.add("@action " + json);
    return this;
  }

  /**
   * The JSON of one action, as {@code @action} carries it; when gcloud's error output matches the
   * extended regular expression {@code refusal}, {@code refusedFailure} is recorded instead of
   * {@code failure}. {@code config}, {@code refusal} and {@code refusedFailure} may be null.
   */
  static String actionJson(
      String say,
      List<String> gcloud,
      String failure,
      JsonObject config,
      String refusal,
      String refusedFailure) {
    JsonObject action = new JsonObject();
    action.addProperty("say", oneLine(say));
    JsonArray arguments = new JsonArray();
    gcloud.forEach(argument -> arguments.add(oneLine(argument)));
    action.add("gcloud", arguments);
    action.addProperty("failure", oneLine(failure));
    if (refusal != null) {
      JsonObject refused = new JsonObject();
      refused.addProperty("match", refusal);
      refused.addProperty("failure", oneLine(refusedFailure));
      action.add("refusal", refused);
    }
    if (config != null) {
      action.add("config", config);
    }
    return GSON.toJson(action);
  }

  /** Appends another plan's lines. */
  Plan then(Plan other) {
    lines.addAll(other.lines);
    return this;
  }

  List<String> lines() {
    return List.copyOf(lines);
  }

  /** The lines of one kind: {@code @action}'s JSON, {@code @info}'s text, a variable's values. */
  List<String> of(String prefix) {
    return lines.stream()
        .filter(line -> line.startsWith(prefix))
        .map(line -> line.substring(prefix.length()))
        .toList();
  }

  private static String oneLine(String value) {
    if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0) {
      throw new UsageError("a value holds a line break: " + value.replaceAll("[\\r\\n]", "\\\\n"));
    }
    return value;
  }
}
