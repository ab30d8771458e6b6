package dev.invokerguard.deployplan;

import java.util.List;

/** Arguments every gcloud call on the function carries. */
final class Gcloud {
  private Gcloud() {}

  static List<String> common(Options options) {
    return List.of("--region=" + options.region, "--project=" + options.project);
  }

  /**
   * Passed explicitly to the commands that act on the function, so that a functions/gen2 property
   * in the user's gcloud configuration cannot send them to the other API.
   */
  static String generationFlag(Options options) {
    return options.gen1 ? "--no-gen2" : "--gen2";
  }
}
