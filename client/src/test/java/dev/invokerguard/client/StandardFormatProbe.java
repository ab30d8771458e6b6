package dev.invokerguard.client;

import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.IdTokenCredentials;
import com.google.auth.oauth2.IdTokenProvider;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/**
 * Run in a child JVM by {@link RoundTripTest}: calls a URL as a client that does not ask the
 * metadata server for {@code format=full} (google-auth-library's default, which other clients may
 * keep), so its token has no {@code email}, only the account's unique ID in {@code sub}. Prints the
 * status code as {@code status=N}.
 *
 * <p>Argument: the URL, which is also the audience.
 */
final class StandardFormatProbe {

  private StandardFormatProbe() {}

  public static void main(String[] args) throws Exception {
    IdTokenCredentials standard =
        IdTokenCredentials.newBuilder()
            .setIdTokenProvider((IdTokenProvider) GoogleCredentials.getApplicationDefault())
            .setTargetAudience(args[0])
            .build();
    standard.refresh();
    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(args[0]))
                    .header("Authorization", "Bearer " + standard.getIdToken().getTokenValue())
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    System.out.println("status=" + response.statusCode());
  }
}
