package dev.invokerguard.deployplan;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Settings for the planner's tests: a host project and region, then the given arguments. */
final class TestOptions {
  private TestOptions() {}

  static Options of(String... args) {
    List<String> all =
        new ArrayList<>(List.of("--project", "host-proj", "--region", "europe-west1"));
    all.addAll(List.of(args));
    return Options.read(all, Map.of()).orElseThrow();
  }
}
