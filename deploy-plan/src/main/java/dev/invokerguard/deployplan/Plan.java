package dev.invokerguard.deployplan;

import com.google.gson.Gson;
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
 *   <li>{@code @info TEXT}: a progress line on stdout; {@code @warn TEXT}: a warning on stderr.
 *   <li>{@code @action JSON}: one gcloud call that changes something, {@code {"say": "...",
 *       "gcloud": ["functions", "deploy", ...], "failure": "...", "config": {...}}}: deploy.sh
 *       prints {@code say}, runs {@code gcloud} (or prints it in a dry run), and on failure records
 *       {@code failure} and goes on. {@code config}, when present, is written to a file first and
 *       {@code @CONFIG} in the arguments replaced by its path.
 * </ul>
 */
final class Plan {
  private static final Gson GSON = new Gson();
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

  /** One gcloud call that changes something; {@code failure} is what is recorded if it fails. */
  Plan action(String say, List<String> gcloud, String failure, JsonObject config) {
    JsonObject action = new JsonObject();
    if (say != null) {
      action.addProperty("say", say);
    }
    JsonArray arguments = new JsonArray();
    gcloud.forEach(arguments::add);
    action.add("gcloud", arguments);
    action.addProperty("failure", failure);
    if (config != null) {
      action.add("config", config);
    }
    lines.add("@action " + GSON.toJson(action));
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
