package dev.invokerguard.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Real Google-signed ID tokens and the key sets that verify them, kept in this module's resources
 * under {@code dev/invokerguard/testing/real-google-tokens/} (its README.txt gives provenance,
 * licences, each token's claims and time window). Read from the class path, so a clone with nothing
 * beside it runs every test. They prove the verifier accepts what Google really sends, not just
 * what our own issuer mints. For tests only.
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

  /** Resource folder, relative to this class's package. */
  private static final String FOLDER = "real-google-tokens/";

  private GoogleFixtures() {}

  /**
   * Reads a fixture file as trimmed UTF-8 text.
   *
   * @throws IllegalArgumentException when no fixture has that name: a typo fails loudly
   */
  public static String read(String name) {
    try (InputStream in = GoogleFixtures.class.getResourceAsStream(FOLDER + name)) {
      if (in == null) {
        throw new IllegalArgumentException("no real Google token fixture named " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
