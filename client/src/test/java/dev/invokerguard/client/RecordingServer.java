package dev.invokerguard.client;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A loopback HTTP server standing in for a protected function: it records each request and answers
 * with a set status and body.
 */
final class RecordingServer implements AutoCloseable {

  /** One request as received. */
  record Request(
      String method,
      String uri,
      String authorization,
      String serverlessAuthorization,
      String contentType,
      String body,
      String extra) {}

  private final HttpServer server;
  private final List<Request> requests = new ArrayList<>();
  private volatile int status = 200;
  private volatile String body = "{\"ok\":true}";

  RecordingServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/",
        exchange -> {
          try (exchange) {
            String received =
                new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            synchronized (this) {
              requests.add(
                  new Request(
                      exchange.getRequestMethod(),
                      exchange.getRequestURI().toString(),
                      exchange.getRequestHeaders().getFirst("Authorization"),
                      exchange.getRequestHeaders().getFirst("X-Serverless-Authorization"),
                      exchange.getRequestHeaders().getFirst("Content-Type"),
                      received,
                      exchange.getRequestHeaders().getFirst("X-Extra")));
            }
            byte[] answer = body.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, answer.length == 0 ? -1 : answer.length);
            try (OutputStream out = exchange.getResponseBody()) {
              out.write(answer);
            }
          }
        });
    server.start();
  }

  void answer(int status, String body) {
    this.status = status;
    this.body = body;
  }

  URI uri(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + pathAndQuery);
  }

  synchronized List<Request> requests() {
    return List.copyOf(requests);
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
