package dev.invokerguard.deployplan;

import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Settings for the planner's tests (a host project and region, then the given arguments), and the
 * gcloud calls a plan lists.
 */
final class TestOptions {
  private TestOptions() {}

  static Options of(String... args) {
    List<String> all =
        new ArrayList<>(List.of("--project", "host-proj", "--region", "europe-west1"));
    all.addAll(List.of(args));
    return Options.read(all, Map.of()).orElseThrow();
  }

  /** The gcloud arguments of each {@code @action} line of {@code plan}, in order. */
  static List<List<String>> calls(Plan plan) {
    return plan.of("@action ").stream()
        .map(
            json ->
                JsonParser.parseString(json)
                    .getAsJsonObject()
                    .getAsJsonArray("gcloud")
                    .asList()
                    .stream()
                    .map(element -> element.getAsString())
                    .toList())
        .toList();
  }
}
