package dev.invokerguard.guard;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class GuardConfigTest {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";
  private static final String AUDIENCE = "https://region-project.cloudfunctions.net/api";

  private static Map<String, String> minimal() {
    Map<String, String> env = new HashMap<>();
    env.put("ALLOWED_INVOKERS", ALICE);
    env.put("EXPECTED_AUDIENCES", AUDIENCE);
    return env;
  }

  private static Map<String, String> with(String name, String value) {
    Map<String, String> env = minimal();
    env.put(name, value);
    return env;
  }

  private static InvalidConfigurationException refused(Map<String, String> env) {
    InvalidConfigurationException e =
        assertThrows(InvalidConfigurationException.class, () -> GuardConfig.fromEnvironment(env));
    // One clear line that starts with the variable at fault.
    assertThat(e.getMessage()).startsWith(e.variable() + ": ");
    assertThat(e.getMessage()).doesNotContain("\n");
    return e;
  }

  @Test
  void fromEnvironment_requiredOnly_appliesDocumentedDefaults() {
    GuardConfig config = GuardConfig.fromEnvironment(minimal());

    assertThat(config.allowlist().emails()).containsExactly(ALICE);
    assertThat(config.audiences()).containsExactly(AUDIENCE);
    assertThat(config.jwksUri())
        .isEqualTo(URI.create("https://www.googleapis.com/oauth2/v3/certs"));
    assertThat(config.issuers())
        .containsExactly("https://accounts.google.com", "accounts.google.com")
        .inOrder();
    assertThat(config.clockSkew()).isEqualTo(Duration.ofSeconds(60));
    assertThat(config.trustPlatformVerifiedTokens()).isFalse();
    assertThat(config.keyFetchTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(config.keyRefetchInterval()).isEqualTo(Duration.ofSeconds(10));
    assertThat(config.project()).isEmpty();
  }

  @Test
  void fromEnvironment_everyVariableSet_readsEach() {
    Map<String, String> env = new HashMap<>();
    env.put(
        "ALLOWED_INVOKERS",
        " " + ALICE + " , 112233445566778899001 ,Bob@Other.iam.gserviceaccount.com");
    env.put("EXPECTED_AUDIENCES", "https://a.example/fn , https://b.example/fn");
    env.put("JWKS_URL", "http://127.0.0.1:8123/oauth2/v3/certs");
    env.put("TOKEN_ISSUERS", "https://issuer.test");
    env.put("CLOCK_SKEW_SECONDS", "0");
    env.put("TRUST_PLATFORM_VERIFIED_TOKENS", "false");
    env.put("KEY_FETCH_TIMEOUT_SECONDS", "2");
    env.put("KEY_REFETCH_INTERVAL_SECONDS", "1");
    env.put("GOOGLE_CLOUD_PROJECT", "host-project");

    GuardConfig config = GuardConfig.fromEnvironment(env);

    assertThat(config.allowlist().emails())
        .containsExactly(ALICE, "bob@other.iam.gserviceaccount.com");
    assertThat(config.allowlist().uniqueIds()).containsExactly("112233445566778899001");
    assertThat(config.audiences())
        .containsExactly("https://a.example/fn", "https://b.example/fn")
        .inOrder();
    assertThat(config.jwksUri()).isEqualTo(URI.create("http://127.0.0.1:8123/oauth2/v3/certs"));
    assertThat(config.issuers()).containsExactly("https://issuer.test");
    assertThat(config.clockSkew()).isEqualTo(Duration.ZERO);
    assertThat(config.trustPlatformVerifiedTokens()).isFalse();
    assertThat(config.keyFetchTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(config.keyRefetchInterval()).isEqualTo(Duration.ofSeconds(1));
    assertThat(config.project()).hasValue("host-project");
  }

  @Test
  void newVerifier_validConfiguration_buildsWithoutFetchingKeys() {
    try (CallerVerifier verifier = GuardConfig.fromEnvironment(minimal()).newVerifier()) {
      assertThat(verifier).isNotNull();
    }
  }

  @Test
  void allowedInvokers_unset_refusedAsRequired() {
    Map<String, String> env = minimal();
    env.remove("ALLOWED_INVOKERS");

    InvalidConfigurationException e = refused(env);

    assertThat(e.variable()).isEqualTo("ALLOWED_INVOKERS");
    assertThat(e.getMessage()).isEqualTo("ALLOWED_INVOKERS: is required but not set");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   "})
  void allowedInvokers_blank_refusedAsEmpty(String value) {
    InvalidConfigurationException e = refused(with("ALLOWED_INVOKERS", value));

    assertThat(e.getMessage()).isEqualTo("ALLOWED_INVOKERS: is empty; give at least one entry");
  }

  @Test
  void allowedInvokers_personalAccount_refusedNamingTheEntry() {
    InvalidConfigurationException e = refused(with("ALLOWED_INVOKERS", ALICE + ",bob@gmail.com"));

    assertThat(e.getMessage())
        .isEqualTo(
            "ALLOWED_INVOKERS: entry 'bob@gmail.com' is not a service-account email or numeric"
                + " unique ID");
  }

  @ParameterizedTest
  @ValueSource(strings = {"*", "123", "0123456789012", "alice", "@iam.gserviceaccount.com"})
  void allowedInvokers_notAServiceAccount_refused(String entry) {
    InvalidConfigurationException e = refused(with("ALLOWED_INVOKERS", entry));

    assertThat(e.variable()).isEqualTo("ALLOWED_INVOKERS");
    assertThat(e.getMessage()).contains("'" + entry + "'");
  }

  @ParameterizedTest
  @ValueSource(strings = {ALICE + ",", "," + ALICE, ALICE + ",," + ALICE, ALICE + ", ,x"})
  void allowedInvokers_emptyEntry_refused(String value) {
    InvalidConfigurationException e = refused(with("ALLOWED_INVOKERS", value));

    assertThat(e.getMessage()).startsWith("ALLOWED_INVOKERS: has an empty entry");
  }

  @Test
  void expectedAudiences_unset_refusedAsRequired() {
    Map<String, String> env = minimal();
    env.remove("EXPECTED_AUDIENCES");

    assertThat(refused(env).getMessage()).isEqualTo("EXPECTED_AUDIENCES: is required but not set");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", AUDIENCE + ",", "https://a.example/x y", "https://a\u0007"})
  void expectedAudiences_emptyOrMalformed_refused(String value) {
    assertThat(refused(with("EXPECTED_AUDIENCES", value)).variable())
        .isEqualTo("EXPECTED_AUDIENCES");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://keys.example/certs",
        "ftp://127.0.0.1/certs",
        "not a url",
        "/oauth2/v3/certs",
        ""
      })
  void jwksUrl_notHttpsNorLoopback_refused(String value) {
    InvalidConfigurationException e = refused(with("JWKS_URL", value));

    assertThat(e.variable()).isEqualTo("JWKS_URL");
  }

  @Test
  void jwksUrl_onGoogleCloudNotGoogles_refused() {
    Map<String, String> env = with("JWKS_URL", "https://keys.example/certs");
    env.put("K_SERVICE", "api");

    InvalidConfigurationException e = refused(env);

    assertThat(e.getMessage())
        .isEqualTo(
            "JWKS_URL: only Google's key set https://www.googleapis.com/oauth2/v3/certs is"
                + " accepted on Google Cloud (K_SERVICE is set), got 'https://keys.example/certs'");
  }

  @Test
  void jwksUrl_onGoogleCloudLoopback_refused() {
    Map<String, String> env = with("JWKS_URL", "http://127.0.0.1:9/certs");
    env.put("K_SERVICE", "api");

    assertThat(refused(env).variable()).isEqualTo("JWKS_URL");
  }

  @Test
  void onGoogleCloud_googleKeysAndIssuers_accepted() {
    Map<String, String> env = with("JWKS_URL", "https://www.googleapis.com/oauth2/v3/certs");
    env.put("TOKEN_ISSUERS", "accounts.google.com");
    env.put("K_SERVICE", "api");

    GuardConfig config = GuardConfig.fromEnvironment(env);

    assertThat(config.issuers()).containsExactly("accounts.google.com");
  }

  @Test
  void tokenIssuers_onGoogleCloudNotGoogles_refused() {
    Map<String, String> env =
        with("TOKEN_ISSUERS", "https://accounts.google.com,https://evil.test");
    env.put("K_SERVICE", "api");

    InvalidConfigurationException e = refused(env);

    assertThat(e.variable()).isEqualTo("TOKEN_ISSUERS");
    assertThat(e.getMessage()).contains("'https://evil.test'");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "a,,b", "https://x.test,"})
  void tokenIssuers_emptyOrEmptyEntry_refused(String value) {
    assertThat(refused(with("TOKEN_ISSUERS", value)).variable()).isEqualTo("TOKEN_ISSUERS");
  }

  @ParameterizedTest
  @ValueSource(strings = {"abc", "-1", "1.5", " 60", "60s", "", "301", "99999999999"})
  void clockSkewSeconds_notWholeSecondsWithinFiveMinutes_refused(String value) {
    assertThat(refused(with("CLOCK_SKEW_SECONDS", value)).variable())
        .isEqualTo("CLOCK_SKEW_SECONDS");
  }

  @ParameterizedTest
  @CsvSource({"0,0", "300,300", "60,60", "007,7"})
  void clockSkewSeconds_withinBounds_read(String value, long seconds) {
    assertThat(GuardConfig.fromEnvironment(with("CLOCK_SKEW_SECONDS", value)).clockSkew())
        .isEqualTo(Duration.ofSeconds(seconds));
  }

  @ParameterizedTest
  @ValueSource(strings = {"TRUE", "True", "yes", "1", "", " true", "false "})
  void trustPlatformVerifiedTokens_notExactlyTrueOrFalse_refused(String value) {
    InvalidConfigurationException e = refused(with("TRUST_PLATFORM_VERIFIED_TOKENS", value));

    assertThat(e.getMessage()).contains("must be exactly 'true' or 'false'");
  }

  @Test
  void trustPlatformVerifiedTokens_trueOnSecondGen_isTrue() {
    Map<String, String> env = with("TRUST_PLATFORM_VERIFIED_TOKENS", "true");
    env.put("K_SERVICE", "api");
    env.put("FUNCTION_GENERATION", "gen2");

    assertThat(GuardConfig.fromEnvironment(env).trustPlatformVerifiedTokens()).isTrue();
  }

  /**
   * Issue 12 item 7: Google's documents do not say that 1st gen judges X-Serverless-Authorization.
   * If it does not, a caller with IAM access could pair its own valid Authorization with a forged
   * token ending in SIGNATURE_REMOVED_BY_GOOGLE in X-Serverless-Authorization, which the verifier
   * judges first. So trust is refused on 1st gen, and wherever the generation is not known.
   */
  @Test
  void trustPlatformVerifiedTokens_trueOnFirstGen_refused() {
    Map<String, String> env = with("TRUST_PLATFORM_VERIFIED_TOKENS", "true");
    env.put("K_SERVICE", "api");
    env.put("FUNCTION_GENERATION", "gen1");

    InvalidConfigurationException e = refused(env);

    assertThat(e.variable()).isEqualTo("TRUST_PLATFORM_VERIFIED_TOKENS");
    assertThat(e.getMessage()).contains("1st gen");
  }

  @Test
  void trustPlatformVerifiedTokens_trueWithoutGeneration_refused() {
    Map<String, String> env = with("TRUST_PLATFORM_VERIFIED_TOKENS", "true");
    env.put("K_SERVICE", "api");

    InvalidConfigurationException e = refused(env);

    assertThat(e.variable()).isEqualTo("TRUST_PLATFORM_VERIFIED_TOKENS");
    assertThat(e.getMessage()).contains("FUNCTION_GENERATION=gen2");
  }

  /** A 1st gen runtime's own variables outweigh a FUNCTION_GENERATION=gen2 set by mistake. */
  @ParameterizedTest
  @ValueSource(strings = {"FUNCTION_NAME", "FUNCTION_TRIGGER_TYPE", "X_GOOGLE_FUNCTION_NAME"})
  void trustPlatformVerifiedTokens_secondGenClaimedButFirstGenVariableSet_refused(
      String firstGenVariable) {
    Map<String, String> env = with("TRUST_PLATFORM_VERIFIED_TOKENS", "true");
    env.put("K_SERVICE", "api");
    env.put("FUNCTION_GENERATION", "gen2");
    env.put(firstGenVariable, "api");

    InvalidConfigurationException e = refused(env);

    assertThat(e.variable()).isEqualTo("TRUST_PLATFORM_VERIFIED_TOKENS");
    assertThat(e.getMessage()).contains(firstGenVariable);
  }

  @ParameterizedTest
  @ValueSource(strings = {"2", "GEN2", "gen3", "", " gen2"})
  void functionGeneration_notGen1OrGen2_refused(String value) {
    assertThat(refused(with("FUNCTION_GENERATION", value)).variable())
        .isEqualTo("FUNCTION_GENERATION");
  }

  @Test
  void functionGeneration_gen1WithoutTrust_accepted() {
    assertThat(
            GuardConfig.fromEnvironment(with("FUNCTION_GENERATION", "gen1"))
                .trustPlatformVerifiedTokens())
        .isFalse();
  }

  @Test
  void trustPlatformVerifiedTokens_trueOffGoogleCloud_refused() {
    InvalidConfigurationException e = refused(with("TRUST_PLATFORM_VERIFIED_TOKENS", "true"));

    assertThat(e.getMessage()).contains("accepted only on Google Cloud");
  }

  @Test
  void trustPlatformVerifiedTokens_false_isFalse() {
    assertThat(
            GuardConfig.fromEnvironment(with("TRUST_PLATFORM_VERIFIED_TOKENS", "false"))
                .trustPlatformVerifiedTokens())
        .isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "61", "x", ""})
  void keyFetchTimeoutSeconds_outOfRange_refused(String value) {
    assertThat(refused(with("KEY_FETCH_TIMEOUT_SECONDS", value)).variable())
        .isEqualTo("KEY_FETCH_TIMEOUT_SECONDS");
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "3601", "ten", "-5"})
  void keyRefetchIntervalSeconds_outOfRange_refused(String value) {
    assertThat(refused(with("KEY_REFETCH_INTERVAL_SECONDS", value)).variable())
        .isEqualTo("KEY_REFETCH_INTERVAL_SECONDS");
  }

  @Test
  void project_fromGcpProjectWhenGoogleCloudProjectUnset() {
    assertThat(GuardConfig.fromEnvironment(with("GCP_PROJECT", "legacy-project")).project())
        .hasValue("legacy-project");
  }

  @Test
  void project_googleCloudProjectWins() {
    Map<String, String> env = with("GCP_PROJECT", "legacy-project");
    env.put("GOOGLE_CLOUD_PROJECT", "new-project");

    assertThat(GuardConfig.fromEnvironment(env).project()).hasValue("new-project");
  }

  @Test
  void refusal_longOrControlCharacterValue_shownShortenedOnOneLine() {
    String value = "x".repeat(500) + "\n";

    InvalidConfigurationException e = refused(with("CLOCK_SKEW_SECONDS", value));

    assertThat(e.getMessage().length()).isLessThan(200);
  }

  @Test
  void allowlist_duplicatesAcrossCase_keptOnce() {
    GuardConfig config =
        GuardConfig.fromEnvironment(with("ALLOWED_INVOKERS", ALICE + "," + ALICE.toUpperCase()));

    assertThat(config.allowlist().emails()).isEqualTo(java.util.Set.copyOf(List.of(ALICE)));
  }

  /**
   * Issue 21 "Also fix": an entry padded with Unicode spaces, which {@link
   * ServiceAccountAllowlist#parse} refuses, is refused here too.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "\u2003" + ALICE,
        ALICE + "\u3000",
        "\u00a0" + ALICE,
        ALICE + "\u2028",
        "\u205f" + ALICE + "," + "104729104729104729104"
      })
  void allowedInvokers_entryPaddedWithUnicodeSpace_refusedAsTheAllowlistRefusesIt(String value) {
    assertThrows(IllegalArgumentException.class, () -> ServiceAccountAllowlist.parse(value));

    InvalidConfigurationException e = refused(with("ALLOWED_INVOKERS", value));

    assertThat(e.variable()).isEqualTo("ALLOWED_INVOKERS");
  }

  /** One parser, one answer: the variable is accepted exactly when the allowlist's parser is. */
  @ParameterizedTest
  @ValueSource(
      strings = {
        ALICE,
        " " + ALICE + " ",
        "\t" + ALICE,
        ALICE + ",104729104729104729104",
        ALICE + ",ALICE@CALLER-PROJECT.IAM.GSERVICEACCOUNT.COM",
        "\u2003" + ALICE,
        ALICE + "\u00a0",
        ALICE + ",,",
        "bob@gmail.com",
        "al ice@caller-project.iam.gserviceaccount.com",
        "\u212a@caller-project.iam.gserviceaccount.com",
        "104729104729104729104"
      })
  void allowedInvokers_acceptedExactlyWhenTheAllowlistParserAccepts(String value) {
    boolean parserAccepts;
    try {
      ServiceAccountAllowlist.parse(value);
      parserAccepts = true;
    } catch (IllegalArgumentException e) {
      parserAccepts = false;
    }
    boolean configAccepts;
    try {
      GuardConfig.fromEnvironment(with("ALLOWED_INVOKERS", value));
      configAccepts = true;
    } catch (InvalidConfigurationException e) {
      configAccepts = false;
    }
    assertThat(configAccepts).isEqualTo(parserAccepts);
  }
}
