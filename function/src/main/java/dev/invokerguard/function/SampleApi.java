package dev.invokerguard.function;

import com.google.cloud.functions.HttpRequest;
import com.google.cloud.functions.HttpResponse;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;
import dev.invokerguard.guard.ProtectedHandler;
import dev.invokerguard.verifier.TokenSource;
import dev.invokerguard.verifier.VerifiedCaller;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The sample internal API behind the guard. Every answer names the verified caller; {@code GET}
 * adds a greeting and the server time, {@code POST} of a JSON object describes what it received
 * (size and top-level keys, never the values). Bodies are capped so a caller cannot make the
 * function buffer without bound.
 *
 * <p>JSON is read and written with gson's streaming {@link JsonReader} and {@link JsonWriter}: no
 * tree and no {@code Gson} instance, whose initialisation would load many classes on every cold
 * start (measured in BENCHMARKS.md).
 */
final class SampleApi implements ProtectedHandler {
  static final int MAX_BODY_BYTES = 64 * 1024;
  static final int MAX_KEYS_LISTED = 50;

  private final Clock clock;
  // The GET answer up to the server time, for the last caller: it depends on the caller alone, and
  // the verifier hands out the same VerifiedCaller for every request that reuses a token. A
  // GetHead is immutable, so a racing thread sees an old head or a whole new one; a miss only
  // costs building it again.
  private volatile GetHead lastHead;

  /** A caller and the start of its GET answer, through {@code "serverTime":"}. */
  private record GetHead(VerifiedCaller caller, String json) {}

  SampleApi(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  @Override
  public void service(VerifiedCaller caller, HttpRequest request, HttpResponse response)
      throws IOException {
    switch (request.getMethod()) {
      case "GET" -> get(caller, response);
      case "POST" -> post(caller, request, response);
      default -> {
        response.appendHeader("Allow", "GET, POST");
        write(response, 405, error("method_not_allowed"));
      }
    }
  }

  private void get(VerifiedCaller caller, HttpResponse response) throws IOException {
    GetHead head = lastHead;
    if (head == null || head.caller() != caller) {
      head = new GetHead(caller, getHead(caller));
      lastHead = head;
    }
    // An ISO-8601 instant holds digits, '-', ':', '.', 'T' and 'Z' only: nothing to escape.
    write(response, 200, head.json() + clock.instant() + "\"}");
  }

  /** The GET answer's fields that depend on the caller alone, ending with the open server time. */
  private static String getHead(VerifiedCaller caller) throws IOException {
    StringWriter text = new StringWriter(256);
    try (JsonWriter answer = new JsonWriter(text)) {
      answer.beginObject();
      callerFields(answer, caller);
      answer.name("greeting").value("Hello, " + caller.principal() + "!");
      answer.name("serverTime").value("");
      answer.endObject();
    }
    String whole = text.toString();
    return whole.substring(0, whole.length() - 2); // without the closing "}
  }

  private static void post(VerifiedCaller caller, HttpRequest request, HttpResponse response)
      throws IOException {
    byte[] body = readCapped(request.getInputStream());
    if (body == null) {
      write(response, 413, error("too_large"));
      return;
    }
    TreeSet<String> keys = topLevelKeys(new String(body, StandardCharsets.UTF_8));
    if (keys == null) {
      write(response, 400, error("expected_json_object"));
      return;
    }
    StringWriter text = new StringWriter(256);
    try (JsonWriter answer = new JsonWriter(text)) {
      answer.beginObject();
      callerFields(answer, caller);
      answer.name("received").beginObject();
      answer.name("bytes").value(body.length);
      answer.name("keys").beginArray();
      for (String key : keys) {
        answer.value(key);
      }
      answer.endArray().endObject();
      answer.endObject();
    }
    write(response, 200, text.toString());
  }

  private static void callerFields(JsonWriter answer, VerifiedCaller caller) throws IOException {
    answer.name("caller").value(caller.principal());
    answer.name("subject").value(caller.subject());
    answer.name("audience").value(caller.audience());
    answer.name("signatureCheck").value(caller.signatureCheck().name());
    if (caller.tokenSource().isPresent()) {
      TokenSource source = caller.tokenSource().get();
      answer.name(TokenSource.HEADER_FIELD).value(source.header());
      answer.name(TokenSource.SIGNATURE_FIELD).value(source.signature());
      answer.name(TokenSource.SERVERLESS_HEADER_FIELD).value(source.serverlessHeader());
    }
  }

  /**
   * The first {@link #MAX_KEYS_LISTED} top-level keys of a JSON object, sorted and without repeats,
   * or {@code null} when the text is not exactly one JSON object (RFC 8259, strictly).
   */
  private static TreeSet<String> topLevelKeys(String text) {
    TreeSet<String> keys = new TreeSet<>();
    try (JsonReader reader = new JsonReader(new StringReader(text))) {
      reader.setStrictness(Strictness.STRICT);
      reader.setNestingLimit(64);
      reader.beginObject();
      while (reader.hasNext()) {
        keys.add(reader.nextName());
        reader.skipValue();
      }
      reader.endObject();
      if (reader.peek() != JsonToken.END_DOCUMENT) {
        return null;
      }
    } catch (IOException | IllegalStateException e) {
      // MalformedJsonException is an IOException; a wrong token type is an IllegalStateException.
      return null;
    }
    while (keys.size() > MAX_KEYS_LISTED) {
      keys.pollLast();
    }
    return keys;
  }

  /** The body, or {@code null} when it is longer than {@link #MAX_BODY_BYTES}. */
  private static byte[] readCapped(InputStream in) throws IOException {
    byte[] body = in.readNBytes(MAX_BODY_BYTES + 1);
    return body.length > MAX_BODY_BYTES ? null : body;
  }

  /** An error body; the codes are fixed identifiers (letters and '_'), nothing to escape. */
  private static String error(String code) {
    return "{\"error\":\"" + code + "\"}";
  }

  private static void write(HttpResponse response, int status, String json) throws IOException {
    response.setStatusCode(status);
    response.setContentType("application/json");
    try (OutputStream out = response.getOutputStream()) {
      out.write(json.getBytes(StandardCharsets.UTF_8));
    }
  }
}
