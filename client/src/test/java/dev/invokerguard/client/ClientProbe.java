package dev.invokerguard.client;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.HashSet;
import java.util.Set;

/**
 * Run in a child JVM by {@link MetadataServerPathTest}: asks an {@link IdTokenAuthenticator} over
 * Application Default Credentials for a header {@code count} times, exactly as a client in a pod
 * does, and prints {@code key=value} lines: the source, how many distinct tokens it got and the
 * first token's claims (never the token itself). On failure it prints the error's source and
 * message and exits with 3.
 *
 * <p>Arguments: audience, count, retry deadline in milliseconds.
 */
final class ClientProbe {

  private ClientProbe() {}

  public static void main(String[] args) {
    IdTokenAuthenticator auth =
        IdTokenAuthenticator.builder()
            .audience(args[0])
            .retryDeadline(Duration.ofMillis(Long.parseLong(args[2])))
            .build();
    int count = Integer.parseInt(args[1]);
    try {
      Set<String> distinct = new HashSet<>();
      String first = null;
      for (int i = 0; i < count; i++) {
        String header = auth.authorizationHeaderValue();
        first = first == null ? header : first;
        distinct.add(header);
      }
      System.out.println("source=" + auth.credentialSource());
      System.out.println("distinct=" + distinct.size());
      String payload = first.substring("Bearer ".length()).split("\\.")[1];
      System.out.println(
          "claims=" + new String(Base64.getUrlDecoder().decode(payload), StandardCharsets.UTF_8));
    } catch (IdTokenException e) {
      System.out.println("error.source=" + e.source());
      System.out.println("error.message=" + e.getMessage());
      System.exit(3);
    }
  }
}
