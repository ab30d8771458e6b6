package dev.invokerguard.deploytest;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The plan deploy.sh --dry-run prints (docs/DEPLOY.md, "The plan"): every line of its stdout that
 * starts with <code>{</code> is one planned change, the action as one JSON object ({@code say},
 * {@code gcloud}, {@code failure}, and {@code refusal} and {@code config} where there is one).
 */
final class DryRunConfigs {
  private DryRunConfigs() {}

  /** The planned changes, in order. */
  static List<JsonObject> actions(String stdout) {
    return stdout
        .lines()
        .filter(line -> line.startsWith("{"))
        .map(line -> JsonParser.parseString(line).getAsJsonObject())
        .toList();
  }

  /** A planned change's command line: {@code gcloud} and its arguments, joined by spaces. */
  static String command(JsonObject action) {
    return "gcloud "
        + action.getAsJsonArray("gcloud").asList().stream()
            .map(JsonElement::getAsString)
            .collect(Collectors.joining(" "));
  }

  /** The command line of every planned change, in order. */
  static List<String> commands(String stdout) {
    return actions(stdout).stream().map(DryRunConfigs::command).toList();
  }

  /**
   * Each change that carries a config to that config, keyed by its command line followed by its
   * sentence in brackets (the alert policies share one command line).
   */
  static Map<String, JsonObject> parse(String stdout) {
    Map<String, JsonObject> configs = new LinkedHashMap<>();
    for (JsonObject action : actions(stdout)) {
      if (action.has("config")) {
        configs.put(
            command(action) + " [" + action.get("say").getAsString() + "]",
            action.getAsJsonObject("config"));
      }
    }
    return configs;
  }

  /** The config whose command starts with {@code prefix}; fails when there is none. */
  static JsonObject find(Map<String, JsonObject> configs, String prefix) {
    return configs.entrySet().stream()
        .filter(e -> e.getKey().startsWith(prefix))
        .map(Map.Entry::getValue)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no dry-run command " + prefix + " in " + configs));
  }
}
