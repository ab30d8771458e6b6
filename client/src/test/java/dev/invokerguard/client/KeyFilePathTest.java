package dev.invokerguard.client;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.standin.GoogleStandIn;
import dev.invokerguard.testing.TestIssuer;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real google-auth-library key-file path ({@code GOOGLE_APPLICATION_CREDENTIALS} to a
 * service-account key, a signed JWT-bearer grant to the key's {@code token_uri}), in a child JVM,
 * against the Google stand-in's token endpoint, which checks the grant's signature against the key
 * it made and answers an ID token from the local issuer.
 */
class KeyFilePathTest {

  private static final String ACCOUNT = "batch-job@proj-key.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://europe-west1-proj-key.cloudfunctions.net/fn";

  @TempDir Path dir;
  private TestIssuer issuer;
  private GoogleStandIn google;

  @BeforeEach
  void start() {
    issuer = TestIssuer.start();
    google =
        GoogleStandIn.builder()
            .issuer(issuer)
            .project("proj-key")
            .workDir(dir.resolve("google"))
            .start();
  }

  @AfterEach
  void stop() {
    google.close();
    issuer.close();
  }

  /** How many requests reached the token endpoint. */
  private long tokenRequests() {
    return google.requests().stream().filter(r -> r.api().equals("token")).count();
  }

  private ClientRun.Result probe(int count) throws Exception {
    Path keyFile = google.writeServiceAccountKey(ACCOUNT, dir.resolve("service-account.json"));
    return ClientRun.main(
        ClientProbe.class,
        dir,
        Map.of("GOOGLE_APPLICATION_CREDENTIALS", keyFile.toString(), "NO_GCE_CHECK", "true"),
        AUDIENCE,
        Integer.toString(count),
        "10000");
  }

  @Test
  void keyFile_tokenCarriesEmailForTheAudience_fetchedOnce() throws Exception {
    ClientRun.Result result = probe(20);

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(0);
    assertThat(result.values().get("source")).isEqualTo("KEY_FILE");
    JsonObject claims = JsonParser.parseString(result.values().get("claims")).getAsJsonObject();
    assertThat(claims.get("email").getAsString()).isEqualTo(ACCOUNT);
    assertThat(claims.get("aud").getAsString()).isEqualTo(AUDIENCE);
    assertThat(tokenRequests()).isEqualTo(1);
  }

  @Test
  void keyFile_tokenEndpointUnavailable_retriedThenSucceeds() throws Exception {
    // google-auth-library does not retry ID-token requests itself: the authenticator does.
    google.failNextTokenRequests(2);

    ClientRun.Result result = probe(1);

    assertWithMessage(result.toString()).that(result.exitCode()).isEqualTo(0);
    assertThat(tokenRequests()).isEqualTo(3);
  }
}
