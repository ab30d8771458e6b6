package dev.invokerguard.standin;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.http.HttpResponse;

/**
 * A backend on a loopback port that answers each request with the credential headers it received,
 * as JSON ({@code {"Authorization": ..., "X-Serverless-Authorization": ...}}, a header absent when
 * it was not sent): what a function behind the front end sees.
 */
final class HeaderEcho implements AutoCloseable {
  private final LoopbackHttp server =
      new LoopbackHttp(
          "header-echo",
          exchange -> {
            try (exchange) {
              JsonObject seen = new JsonObject();
              for (String name :
                  new String[] {
                    PlatformRules.AUTHORIZATION, PlatformRules.SERVERLESS_AUTHORIZATION
                  }) {
                String value = exchange.getRequestHeaders().getFirst(name);
                if (value != null) {
                  seen.addProperty(name, value);
                }
              }
              Json.send(exchange, 200, seen);
            }
          });

  int port() {
    return server.port();
  }

  /** The headers the backend received, from its answer relayed by the front end. */
  static JsonObject seen(HttpResponse<String> response) {
    return JsonParser.parseString(response.body()).getAsJsonObject();
  }

  @Override
  public void close() {
    server.close();
  }
}
