package dev.invokerguard.deployplan;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.Optional;

/**
 * What deploy.sh read with gcloud so far, one JSON object on the planner's stdin: {@code
 * projectNumber}, {@code sourceDir}, {@code serviceAccounts} (each ID or email read to the value
 * describe printed, or null), {@code function} (the function as described, or null when it does not
 * exist), {@code service}, {@code policy}, the monitoring reads, {@code deployed} and the smoke
 * test's calls ({@link Smoke}). A field deploy.sh has not read is absent; a failed read is settled
 * by {@link Reads}.
 */
final class Facts {
  private final JsonObject json;

  /** Failed reads are settled first ({@link Reads#settle}): absent, or the run stops. */
  private Facts(JsonObject json) {
    Reads.settleAll(json);
    this.json = json;
  }

  static Facts parse(String text) {
    if (text == null || text.isBlank()) {
      return new Facts(new JsonObject());
    }
    try {
      JsonElement element = JsonParser.parseString(text);
      if (!element.isJsonObject()) {
        throw new IllegalStateException("the facts are not a JSON object");
      }
      return new Facts(element.getAsJsonObject());
    } catch (JsonParseException e) {
      throw new IllegalStateException("the facts are not JSON", e);
    }
  }

  static Facts of(JsonObject json) {
    return new Facts(json.deepCopy());
  }

  /** A string field, or empty when absent or null. */
  Optional<String> string(String name) {
    JsonElement value = json.get(name);
    return value == null || value.isJsonNull() || !value.isJsonPrimitive()
        ? Optional.empty()
        : Optional.of(value.getAsString());
  }

  /** An object field, or empty when absent or null. */
  Optional<JsonObject> object(String name) {
    JsonElement value = json.get(name);
    return value != null && value.isJsonObject()
        ? Optional.of(value.getAsJsonObject())
        : Optional.empty();
  }

  /**
   * The function as {@code gcloud functions describe --format=json} printed it (the text in {@code
   * function}), or empty when it does not exist (null or absent).
   *
   * @throws IllegalStateException when the text is not a JSON object (fail closed)
   */
  Optional<JsonObject> function() {
    Optional<String> text = string("function");
    if (text.isEmpty()) {
      return Optional.empty();
    }
    try {
      JsonElement parsed = JsonParser.parseString(text.get());
      if (parsed.isJsonObject()) {
        return Optional.of(parsed.getAsJsonObject());
      }
    } catch (JsonParseException e) {
      // Falls through to the refusal.
    }
    throw new IllegalStateException("gcloud functions describe returned no JSON object");
  }

  /**
   * The project number {@code gcloud projects describe} printed, or empty when not read.
   *
   * @throws IllegalStateException when it is not a number
   */
  String projectNumber() {
    String number = string("projectNumber").orElse("").strip();
    if (json.has("projectNumber") && !number.matches("[0-9]+")) {
      throw new IllegalStateException("the project has no project number ('" + number + "')");
    }
    return number;
  }

  /** A field as read, or empty when absent. */
  Optional<JsonElement> get(String name) {
    return Optional.ofNullable(json.get(name));
  }
}
