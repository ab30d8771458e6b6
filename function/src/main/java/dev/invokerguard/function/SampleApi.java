package dev.invokerguard.function;

import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.invokerguard.functions.ProtectedHandler;
import dev.invokerguard.verifier.VerifiedCaller;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The sample internal API behind the guard. Every answer names the verified caller; {@code GET}
 * adds a greeting and the server time, {@code POST} of a JSON object describes what it received
 * (size and top-level keys, never the values). Bodies are capped so a caller cannot make the
 * function buffer without bound.
 */
final class SampleApi implements ProtectedHandler {
  static final int MAX_BODY_BYTES = 64 * 1024;
  static final int MAX_KEYS_LISTED = 50;

  private final Clock clock;

  SampleApi(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  @Override
  public void service(VerifiedCaller caller, HttpRequest request, HttpResponse response)
      throws IOException {
    JsonObject answer = new JsonObject();
    answer.addProperty("caller", caller.principal());
    answer.addProperty("subject", caller.subject());
    answer.addProperty("audience", caller.audience());
    answer.addProperty("signatureCheck", caller.signatureCheck().name());
    switch (request.getMethod()) {
      case "GET" -> {
        answer.addProperty("greeting", "Hello, " + caller.principal() + "!");
        answer.addProperty("serverTime", clock.instant().toString());
      }
      case "POST" -> {
        byte[] body = readCapped(request.getInputStream());
        if (body == null) {
          write(response, 413, error("too_large"));
          return;
        }
        JsonElement parsed;
        try {
          parsed = JsonParser.parseString(new String(body, StandardCharsets.UTF_8));
        } catch (JsonParseException e) {
          parsed = null;
        }
        if (parsed == null || !parsed.isJsonObject()) {
          write(response, 400, error("expected_json_object"));
          return;
        }
        JsonArray keys = new JsonArray();
        new TreeSet<>(parsed.getAsJsonObject().keySet())
            .stream().limit(MAX_KEYS_LISTED).forEach(keys::add);
        JsonObject received = new JsonObject();
        received.addProperty("bytes", body.length);
        received.add("keys", keys);
        answer.add("received", received);
      }
      default -> {
        response.appendHeader("Allow", "GET, POST");
        write(response, 405, error("method_not_allowed"));
        return;
      }
    }
    write(response, 200, answer);
  }

  /** The body, or {@code null} when it is longer than {@link #MAX_BODY_BYTES}. */
  private static byte[] readCapped(InputStream in) throws IOException {
    byte[] body = in.readNBytes(MAX_BODY_BYTES + 1);
    return body.length > MAX_BODY_BYTES ? null : body;
  }

  private static JsonObject error(String code) {
    JsonObject error = new JsonObject();
    error.addProperty("error", code);
    return error;
  }

  private static void write(HttpResponse response, int status, JsonObject body) throws IOException {
    response.setStatusCode(status);
    response.setContentType("application/json");
    try (OutputStream out = response.getOutputStream()) {
      out.write(body.toString().getBytes(StandardCharsets.UTF_8));
    }
  }
}
