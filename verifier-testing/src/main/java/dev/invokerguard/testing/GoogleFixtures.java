package dev.invokerguard.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/**
 * Real Google-signed ID tokens and the key sets that verify them, kept beside the repository in
 * {@code ../shared/fixtures/real-google-tokens/} (its README.txt gives each token's claims and time
 * window). They prove the verifier accepts what Google really sends, not just what our own issuer
 * mints. For tests only.
 */
public final class GoogleFixtures {
  /**
   * {@code federated_rs256_2020.jwt}: a service account's ID token, the shape a function receives.
   */
  public static final String FEDERATED_TOKEN = "federated_rs256_2020.jwt";

  /** {@code federated_keys.json}: the JWKS that verifies {@link #FEDERATED_TOKEN}. */
  public static final String FEDERATED_KEYS = "federated_keys.json";

  /** Audience of {@link #FEDERATED_TOKEN}. */
  public static final String FEDERATED_AUDIENCE = "https://example.com/path";

  /** {@code iat} of {@link #FEDERATED_TOKEN}; its {@code exp} is one hour later. */
  public static final Instant FEDERATED_ISSUED_AT = Instant.ofEpochSecond(1587626288L);

  /** {@code sa_rs256_2023.jwt}: a service account's ID token whose audience is an OAuth client. */
  public static final String SA_2023_TOKEN = "sa_rs256_2023.jwt";

  /** {@code certs_2023_v3.json}: the JWKS that verifies {@link #SA_2023_TOKEN}. */
  public static final String SA_2023_KEYS = "certs_2023_v3.json";

  /** Audience of {@link #SA_2023_TOKEN}. */
  public static final String SA_2023_AUDIENCE = "32555940559.apps.googleusercontent.com";

  /** {@code iat} of {@link #SA_2023_TOKEN}; its {@code exp} is one hour later. */
  public static final Instant SA_2023_ISSUED_AT = Instant.ofEpochSecond(1685998623L);

  /** {@code sa_rs256_2022_no_keyset.jwt}: real, but its key is in none of the key sets here. */
  public static final String NO_KEYSET_TOKEN = "sa_rs256_2022_no_keyset.jwt";

  /** {@code iap_es256.jwt}: an IAP assertion signed with ES256, not an ID token we accept. */
  public static final String IAP_ES256_TOKEN = "iap_es256.jwt";

  /** Email of the service account in the federated and 2023 tokens. */
  public static final String SERVICE_ACCOUNT =
      "integration-tests@chingor-test.iam.gserviceaccount.com";

  /** Numeric unique ID ({@code sub}) of {@link #SERVICE_ACCOUNT}. */
  public static final String SERVICE_ACCOUNT_ID = "104029292853099978293";

  private GoogleFixtures() {}

  /**
   * The fixtures folder: {@code shared/fixtures/real-google-tokens} beside the repository root,
   * found by walking up from the working directory to the folder holding {@code mvnw}.
   *
   * @throws IllegalStateException when it is not there: the tests need it, so this fails loudly
   */
  public static Path directory() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.exists(dir.resolve("mvnw"))) {
      dir = dir.getParent();
    }
    if (dir == null || dir.getParent() == null) {
      throw new IllegalStateException("cannot find the repository root (a folder with mvnw)");
    }
    Path fixtures = dir.getParent().resolve("shared/fixtures/real-google-tokens");
    if (!Files.isDirectory(fixtures)) {
      throw new IllegalStateException(
          "real Google token fixtures missing: expected " + fixtures + " beside the repository");
    }
    return fixtures;
  }

  /** Reads a fixture file as trimmed UTF-8 text. */
  public static String read(String name) {
    try {
      return Files.readString(directory().resolve(name), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
