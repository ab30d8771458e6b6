package dev.invokerguard.standin;

import com.google.gson.JsonObject;

/** A long-running operation: not done while the function starts, then a response or an error. */
final class Operation {
  private final String name;
  private final JsonObject metadata;
  private JsonObject response;
  private JsonObject error;

  Operation(String name, JsonObject metadata) {
    this.name = name;
    this.metadata = metadata;
  }

  String name() {
    return name;
  }

  synchronized void succeed(JsonObject response) {
    this.response = response;
    markStages("COMPLETE");
  }

  synchronized void fail(int code, String message) {
    JsonObject error = new JsonObject();
    error.addProperty("code", code);
    error.addProperty("message", message);
    this.error = error;
    markStages("FAILED");
  }

  synchronized boolean done() {
    return response != null || error != null;
  }

  synchronized JsonObject toJson() {
    JsonObject json = new JsonObject();
    json.addProperty("name", name);
    json.add("metadata", metadata.deepCopy());
    json.addProperty("done", done());
    if (response != null) {
      json.add("response", response.deepCopy());
    }
    if (error != null) {
      json.add("error", error.deepCopy());
    }
    return json;
  }

  private void markStages(String last) {
    if (metadata.has("stages")) {
      metadata
          .getAsJsonArray("stages")
          .forEach(
              stage -> {
                JsonObject s = stage.getAsJsonObject();
                if (!"COMPLETE".equals(Json.string(s, "state"))) {
                  s.addProperty("state", last);
                }
              });
    }
  }
}
