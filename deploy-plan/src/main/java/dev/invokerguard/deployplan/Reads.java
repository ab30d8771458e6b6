package dev.invokerguard.deployplan;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The gcloud reads the planner asks deploy.sh to make, and what a failed one means (one rule, one
 * place). A read is one JSON object, {@code {"fact": "function", "key": "...", "gcloud": [...],
 * "absent": "not-found"}}: deploy.sh runs {@code gcloud} with exactly those arguments and puts what
 * it printed, as a string, into the facts under {@code fact} (or {@code fact.key}). When the read
 * fails, deploy.sh puts the read itself there with gcloud's error output added ({@code "error"}),
 * and the next planner step settles it ({@link #settle}) before anything else: the fact is absent
 * (null) when {@code absent} says so ({@code "not-found"}: gcloud says the resource does not exist;
 * {@code "failure"}: any failure, the read is optional), a missing alpha component is a refusal
 * (exit 2), and any other failure stops the run (exit 1). Every step runs before the next change,
 * so a refused read stops with nothing changed after it.
 */
final class Reads {
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  /** What gcloud says when the resource does not exist. */
  private static final Pattern NOT_FOUND =
      Pattern.compile("NOT_FOUND|not found|does not exist|status=\\[404\\]");

  /** Any failure of the read means the fact is absent: the planner judges its absence. */
  static final String ANY_FAILURE = "failure";

  /** Only "does not exist" means absent; any other failure stops. */
  static final String NOT_FOUND_ONLY = "not-found";

  private Reads() {}

  /** One read, as deploy.sh's runner takes it; {@code key} and {@code absent} may be null. */
  static String read(String fact, String key, List<String> gcloud, String absent) {
    JsonObject read = new JsonObject();
    read.addProperty("fact", fact);
    if (key != null) {
      read.addProperty("key", key);
    }
    JsonArray arguments = new JsonArray();
    gcloud.forEach(arguments::add);
    read.add("gcloud", arguments);
    if (absent != null) {
      read.addProperty("absent", absent);
    }
    return GSON.toJson(read);
  }

  /** Whether a fact's value is a failed read (the read with gcloud's error output). */
  static boolean failed(JsonElement value) {
    return value != null
        && value.isJsonObject()
        && value.getAsJsonObject().has("error")
        && value.getAsJsonObject().has("gcloud");
  }

  /**
   * A failed read settled: null when the fact is absent.
   *
   * @throws UsageError when gcloud lacks the alpha component (the alert policy commands need it)
   * @throws IllegalStateException on any other failure, with gcloud's error output
   */
  static JsonElement settle(JsonObject failed) {
    String error = Deployment.text(failed, "error").orElse("").strip();
    String absent = Deployment.text(failed, "absent").orElse("");
    StringBuilder what = new StringBuilder("gcloud");
    for (JsonElement argument : failed.getAsJsonArray("gcloud")) {
      if (argument.getAsString().startsWith("--")) {
        break;
      }
      what.append(' ').append(argument.getAsString());
    }
    if (absent.equals(ANY_FAILURE)
        || (absent.equals(NOT_FOUND_ONLY) && NOT_FOUND.matcher(error).find())) {
      return JsonNull.INSTANCE;
    }
    if (error.toLowerCase(Locale.ROOT).contains("component")) {
      throw new UsageError(
          what + " needs the gcloud alpha component: gcloud components install alpha");
    }
    throw new IllegalStateException(what + " failed" + (error.isEmpty() ? "" : ": " + error));
  }

  /** Every failed read in the facts (at the top, or one level down under a key) settled. */
  static void settleAll(JsonObject facts) {
    for (Map.Entry<String, JsonElement> fact : facts.entrySet()) {
      JsonElement value = fact.getValue();
      if (failed(value)) {
        fact.setValue(settle(value.getAsJsonObject()));
      } else if (value.isJsonObject()) {
        for (Map.Entry<String, JsonElement> keyed : value.getAsJsonObject().entrySet()) {
          if (failed(keyed.getValue())) {
            keyed.setValue(settle(keyed.getValue().getAsJsonObject()));
          }
        }
      }
    }
  }
}
