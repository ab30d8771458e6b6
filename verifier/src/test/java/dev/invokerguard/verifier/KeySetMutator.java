package dev.invokerguard.verifier;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

/**
 * Structure-aware edits of a JWKS document (RFC 7517 section 5), driven by the fuzzer: member swaps
 * between keys (one key's modulus under another's {@code kid}), wrong types, removed or duplicated
 * keys, other key types and algorithms, and raw text edits for everything else.
 */
final class KeySetMutator {
  private static final String[] MEMBERS = {"kty", "alg", "use", "kid", "n", "e", "key_ops", "x5c"};
  private static final String[] VALUES = {
    "RSA", "EC", "oct", "RS256", "HS256", "none", "sig", "enc", "AQAB", "Aw", "AA", "", "AQAB=",
  };

  private KeySetMutator() {}

  /** Applies one to three fuzzer-chosen edits to the JWKS text {@code jwks}. */
  static String mutate(String jwks, FuzzedDataProvider data) {
    String result = jwks;
    int edits = data.consumeInt(1, 3);
    for (int i = 0; i < edits && data.remainingBytes() > 0; i++) {
      result = edit(result, data);
    }
    return result;
  }

  private static String edit(String jwks, FuzzedDataProvider data) {
    JsonObject document;
    JsonArray keys;
    try {
      document = JsonParser.parseString(jwks).getAsJsonObject();
      keys = document.getAsJsonArray("keys");
    } catch (RuntimeException e) { // no longer a key set: edit the text only
      return textEdit(jwks, data);
    }
    if (keys == null || keys.isEmpty() || !keys.get(0).isJsonObject()) {
      return textEdit(jwks, data);
    }
    JsonObject key = keys.get(data.consumeInt(0, keys.size() - 1)).getAsJsonObject();
    String member = MEMBERS[data.consumeInt(0, MEMBERS.length - 1)];
    switch (data.consumeInt(0, 7)) {
      case 0 -> { // swap a member between two keys: a modulus under the other key's kid
        JsonElement other = keys.get(data.consumeInt(0, keys.size() - 1));
        if (other.isJsonObject() && key.has(member) && other.getAsJsonObject().has(member)) {
          JsonElement mine = key.get(member);
          key.add(member, other.getAsJsonObject().get(member));
          other.getAsJsonObject().add(member, mine);
        }
      }
      case 1 -> key.addProperty(member, VALUES[data.consumeInt(0, VALUES.length - 1)]);
      case 2 -> key.addProperty(member, data.consumeString(24));
      case 3 ->
          key.add(
              member,
              switch (data.consumeInt(0, 3)) {
                case 0 -> JsonNull.INSTANCE;
                case 1 -> new JsonPrimitive(data.consumeLong());
                case 2 -> new JsonArray();
                default -> new JsonObject();
              });
      case 4 -> key.remove(member);
      case 5 -> keys.add(key.deepCopy()); // the same kid twice
      case 6 -> { // an extra key that reuses a kid with another exponent
        JsonObject twin = key.deepCopy();
        twin.addProperty("e", VALUES[data.consumeInt(0, VALUES.length - 1)]);
        keys.add(twin);
      }
      default -> document.add("keys", data.consumeBoolean() ? new JsonObject() : JsonNull.INSTANCE);
    }
    return document.toString();
  }

  private static String textEdit(String text, FuzzedDataProvider data) {
    if (text.isEmpty()) {
      return data.consumeString(64);
    }
    int from = data.consumeInt(0, text.length() - 1);
    int to = data.consumeInt(from, Math.min(text.length(), from + 64));
    return text.substring(0, from) + data.consumeString(64) + text.substring(to);
  }
}
