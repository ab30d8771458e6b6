package dev.invokerguard.testing;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LocalGoogleTest {

  private static final String ALLOWED = "allowed@local-proj.iam.gserviceaccount.com";
  private static final String STRANGER = "stranger@local-proj.iam.gserviceaccount.com";

  @Test
  void start_printsJwksUriAndOneMetadataHostPerAccount_thatServeTokens() throws Exception {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();

    try (TestIssuer issuer =
        LocalGoogle.start(
            new String[] {"--account", ALLOWED, "--account", STRANGER},
            new PrintStream(printed, true, StandardCharsets.UTF_8))) {
      String[] lines = printed.toString(StandardCharsets.UTF_8).split("\\R");

      assertThat(lines).hasLength(4);
      assertThat(lines[0]).isEqualTo("jwks-uri " + issuer.jwksUri());
      assertThat(lines[1]).matches("metadata-host " + ALLOWED + " 127\\.0\\.0\\.1:[0-9]+");
      assertThat(lines[2]).startsWith("metadata-host " + STRANGER + " ");
      assertThat(lines[3]).isEqualTo("ready");
      String strangerHost = lines[2].split(" ")[2];
      HttpResponse<String> response =
          Jwt.HTTP.send(
              HttpRequest.newBuilder(
                      URI.create(
                          "http://"
                              + strangerHost
                              + MetadataServer.IDENTITY_PATH
                              + "?audience=a&format=full"))
                  .header("Metadata-Flavor", "Google")
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(Jwt.payload(response.body()).get("email").getAsString()).isEqualTo(STRANGER);
      assertThat(Jwt.fetchKeys(issuer.jwksUri()).keySet()).contains(issuer.activeKeyId());
    }
  }

  @Test
  void start_badArguments_refused() {
    PrintStream out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);

    assertThrows(IllegalArgumentException.class, () -> LocalGoogle.start(new String[0], out));
    assertThrows(
        IllegalArgumentException.class,
        () -> LocalGoogle.start(new String[] {"--jwks-port", "70000", "--account", ALLOWED}, out));
    assertThrows(
        IllegalArgumentException.class, () -> LocalGoogle.start(new String[] {"--account"}, out));
  }
}
