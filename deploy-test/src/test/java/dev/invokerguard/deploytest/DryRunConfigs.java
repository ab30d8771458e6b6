package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Path;
import java.util.ArrayList;
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

  /**
   * The configs of {@code deploy.sh --project PROJECT --region REGION --monitoring-only --dry-run}
   * ({@code --gen1} added for generation 1) run in a new sandbox in {@code dir}, as {@link #parse}
   * gives them; the run must succeed and change nothing.
   */
  static Map<String, JsonObject> monitoringOnly(
      Path dir, String project, String region, int generation) throws Exception {
    Sandbox sandbox = Sandbox.create(dir);
    List<String> args =
        new ArrayList<>(
            List.of("--project", project, "--region", region, "--monitoring-only", "--dry-run"));
    if (generation == 1) {
      args.add("--gen1");
    }
    Sandbox.Result result = sandbox.run(args.toArray(String[]::new));
    assertWithMessage("%s", result).that(result.exitCode()).isEqualTo(0);
    assertWithMessage("%s", result).that(result.mutatingCalls()).isEmpty();
    return parse(result.stdout());
  }

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
