package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** JSON and HTTP helpers shared by the stand-in's handlers. */
final class Json {
  private Json() {}

  /** Parses a request body that must be a JSON object. */
  static JsonObject object(String body) {
    try {
      JsonElement element = JsonParser.parseString(body.isEmpty() ? "{}" : body);
      if (!element.isJsonObject()) {
        throw new ApiException(400, "INVALID_ARGUMENT", "request body is not a JSON object");
      }
      return element.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new ApiException(400, "INVALID_ARGUMENT", "request body is not valid JSON");
    }
  }

  /** A string member, or null when absent or not a string. */
  static String string(JsonObject object, String name) {
    JsonElement value = object == null ? null : object.get(name);
    return value != null && value.isJsonPrimitive() ? value.getAsString() : null;
  }

  /** An object member, or an empty object when absent. */
  static JsonObject child(JsonObject object, String name) {
    JsonElement value = object == null ? null : object.get(name);
    return value != null && value.isJsonObject() ? value.getAsJsonObject() : new JsonObject();
  }

  /** Google's error body: {@code {"error": {"code", "message", "status"}}}. */
  static JsonObject error(int code, String status, String message) {
    JsonObject error = new JsonObject();
    error.addProperty("code", code);
    error.addProperty("message", message);
    error.addProperty("status", status);
    JsonObject body = new JsonObject();
    body.add("error", error);
    return body;
  }

  /** Google's error body with {@code details} (none when null). */
  static JsonObject error(int code, String status, String message, JsonArray details) {
    JsonObject body = error(code, status, message);
    if (details != null) {
      body.getAsJsonObject("error").add("details", details.deepCopy());
    }
    return body;
  }

  static void send(HttpExchange exchange, int status, JsonElement body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", "application/json; charset=UTF-8");
    send(exchange, status, body.toString().getBytes(StandardCharsets.UTF_8));
  }

  static void send(HttpExchange exchange, int status, byte[] body) throws IOException {
    // A zero length would mean "chunked" to the JDK server; -1 means an empty body.
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  /** snake_case to lowerCamelCase: update masks name fields either way. */
  static String camel(String name) {
    StringBuilder out = new StringBuilder();
    boolean upper = false;
    for (char c : name.toCharArray()) {
      if (c == '_') {
        upper = true;
      } else {
        out.append(upper ? Character.toUpperCase(c) : c);
        upper = false;
      }
    }
    return out.toString();
  }

  /**
   * Applies a field mask ({@code a.b_c,d}) from {@code patch} to {@code target}: each named field
   * takes the patch's value, or is removed when the patch has none (as Google's PATCH does).
   */
  static void applyMask(JsonObject target, JsonObject patch, String mask) {
    for (String path : mask.split(",")) {
      if (path.isBlank()) {
        continue;
      }
      String[] parts = path.strip().split("\\.");
      JsonObject to = target;
      JsonObject from = patch;
      for (int i = 0; i < parts.length - 1; i++) {
        String part = camel(parts[i]);
        if (!to.has(part) || !to.get(part).isJsonObject()) {
          to.add(part, new JsonObject());
        }
        to = to.getAsJsonObject(part);
        from = child(from, part);
      }
      String last = camel(parts[parts.length - 1]);
      if (from.has(last)) {
        to.add(last, from.get(last).deepCopy());
      } else {
        to.remove(last);
      }
    }
  }
}
