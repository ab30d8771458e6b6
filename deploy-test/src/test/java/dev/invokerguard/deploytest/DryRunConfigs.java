package dev.invokerguard.deploytest;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The configs deploy.sh --monitoring --dry-run prints: each {@code [dry-run] gcloud ...} command
 * followed by the JSON it would send, indented by four spaces.
 */
final class DryRunConfigs {
  private DryRunConfigs() {}

  /** Command line (without the {@code [dry-run] } mark) to the config printed below it. */
  static Map<String, JsonObject> parse(String stdout) {
    Map<String, JsonObject> configs = new LinkedHashMap<>();
    List<String> lines = stdout.lines().toList();
    for (int i = 0; i < lines.size(); i++) {
      if (!lines.get(i).startsWith("[dry-run] gcloud ")) {
        continue;
      }
      StringBuilder json = new StringBuilder();
      int j = i + 1;
      while (j < lines.size() && lines.get(j).startsWith("    ")) {
        json.append(lines.get(j)).append('\n');
        j++;
      }
      if (json.length() > 0) {
        configs.put(
            lines.get(i).substring("[dry-run] ".length()),
            JsonParser.parseString(json.toString()).getAsJsonObject());
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
