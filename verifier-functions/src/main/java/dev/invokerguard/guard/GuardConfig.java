package dev.invokerguard.guard;

import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.KeyHealthListener;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import dev.invokerguard.verifier.Setting;
import dev.invokerguard.verifier.UntrustedText;
import dev.invokerguard.verifier.VerifierSettings;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The guard's configuration, read once at start-up from environment variables. Strict: a missing
 * required variable, an empty list item, a value that does not parse, or (on Google Cloud) a
 * non-Google key endpoint or issuer is an {@link InvalidConfigurationException} naming the
 * variable. Nothing falls back to open.
 *
 * <table>
 *   <caption>Variables</caption>
 *   <tr><th>variable</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>{@code ALLOWED_INVOKERS}</td><td>comma-separated service-account emails or numeric
 *       unique IDs</td><td>required</td></tr>
 *   <tr><td>{@code EXPECTED_AUDIENCES}</td><td>comma-separated audiences (the function's
 *       URLs)</td><td>required</td></tr>
 *   <tr><td>{@code JWKS_URL}</td><td>where signing keys are fetched</td><td>Google's</td></tr>
 *   <tr><td>{@code TOKEN_ISSUERS}</td><td>comma-separated accepted issuers</td><td>Google's
 *       two</td></tr>
 *   <tr><td>{@code CLOCK_SKEW_SECONDS}</td><td>allowed clock skew, 0 to 300</td><td>60</td></tr>
 *   <tr><td>{@code TRUST_PLATFORM_VERIFIED_TOKENS}</td><td>{@code true} or {@code false};
 *       {@code true} only with {@code K_SERVICE} and {@code FUNCTION_GENERATION=gen2}</td>
 *       <td>false</td></tr>
 *   <tr><td>{@code FUNCTION_GENERATION}</td><td>{@code gen1} or {@code gen2}</td><td>unset
 *       </td></tr>
 *   <tr><td>{@code KEY_FETCH_TIMEOUT_SECONDS}</td><td>deadline of one whole key fetch, 1 to
 *       60</td><td>5</td></tr>
 *   <tr><td>{@code KEY_REFETCH_INTERVAL_SECONDS}</td><td>at most one key fetch per interval, 1 to
 *       3600; also the {@code Retry-After} of a 503</td><td>10</td></tr>
 * </table>
 *
 * <p>{@code K_SERVICE} (set by Cloud Functions and Cloud Run) marks a run on Google Cloud; {@code
 * GOOGLE_CLOUD_PROJECT} or {@code GCP_PROJECT} names the project for log trace links.
 */
public final class GuardConfig {
  /** Comma-separated service-account emails or numeric unique IDs. Required. */
  public static final String ALLOWED_INVOKERS = "ALLOWED_INVOKERS";

  /** Comma-separated audiences the token's {@code aud} must name. Required. */
  public static final String EXPECTED_AUDIENCES = "EXPECTED_AUDIENCES";

  /** The JWKS URL; Google's by default and the only one accepted on Google Cloud. */
  public static final String JWKS_URL = "JWKS_URL";

  /** Comma-separated accepted issuers; Google's two by default and on Google Cloud. */
  public static final String TOKEN_ISSUERS = "TOKEN_ISSUERS";

  /** Allowed clock skew in whole seconds ({@link VerifierSettings#CLOCK_SKEW}). */
  public static final String CLOCK_SKEW_SECONDS = VerifierSettings.CLOCK_SKEW.environmentVariable();

  /** {@code true} to accept tokens whose signature Google removed; default {@code false}. */
  public static final String TRUST_PLATFORM_VERIFIED_TOKENS = "TRUST_PLATFORM_VERIFIED_TOKENS";

  /**
   * Hard deadline of one whole key fetch in seconds ({@link VerifierSettings#KEY_FETCH_TIMEOUT}).
   */
  public static final String KEY_FETCH_TIMEOUT_SECONDS =
      VerifierSettings.KEY_FETCH_TIMEOUT.environmentVariable();

  /** Minimum seconds between two key fetches ({@link VerifierSettings#KEY_REFETCH_INTERVAL}). */
  public static final String KEY_REFETCH_INTERVAL_SECONDS =
      VerifierSettings.KEY_REFETCH_INTERVAL.environmentVariable();

  /** Set by the platform on Google Cloud (Cloud Functions 2nd gen, Cloud Run). */
  public static final String K_SERVICE = "K_SERVICE";

  /**
   * The function's generation, {@code gen1} or {@code gen2}, set at deployment (the platform sets
   * no variable that tells the two apart for certain). Optional; {@code
   * TRUST_PLATFORM_VERIFIED_TOKENS=true} requires {@code gen2}.
   */
  public static final String FUNCTION_GENERATION = "FUNCTION_GENERATION";

  /**
   * Variables only a 1st gen runtime sets (its older runtimes set {@code FUNCTION_NAME} and {@code
   * FUNCTION_TRIGGER_TYPE}; its legacy workers {@code X_GOOGLE_*}): any of them outweighs a {@code
   * FUNCTION_GENERATION=gen2} set by mistake.
   */
  static final List<String> FIRST_GEN_VARIABLES =
      List.of("FUNCTION_NAME", "FUNCTION_TRIGGER_TYPE", "X_GOOGLE_FUNCTION_NAME");

  private static final Pattern DIGITS = Pattern.compile("[0-9]{1,9}");
  private static final Pattern CONTROL_OR_SPACE = Pattern.compile("[\\p{Cntrl}\\s]");

  private final ServiceAccountAllowlist allowlist;
  private final List<String> audiences;
  private final URI jwksUri;
  private final List<String> issuers;
  private final Duration clockSkew;
  private final boolean trustPlatformVerifiedTokens;
  private final Duration keyFetchTimeout;
  private final Duration keyRefetchInterval;
  private final Optional<String> project;

  private GuardConfig(Map<String, String> env) {
    boolean onGoogleCloud = env.containsKey(K_SERVICE);
    this.allowlist = allowlist(env);
    this.audiences = list(env, EXPECTED_AUDIENCES, null);
    this.jwksUri = jwksUri(env, onGoogleCloud);
    this.issuers = issuers(env, onGoogleCloud);
    this.clockSkew = seconds(env, VerifierSettings.CLOCK_SKEW);
    this.trustPlatformVerifiedTokens = bool(env, TRUST_PLATFORM_VERIFIED_TOKENS);
    String generation = generation(env);
    if (trustPlatformVerifiedTokens && !onGoogleCloud) {
      // Off Google Cloud no front end checked the signature that was removed: anyone could
      // write such a token. Refusing here keeps a production setting from opening a local run.
      throw new InvalidConfigurationException(
          TRUST_PLATFORM_VERIFIED_TOKENS,
          "'true' is accepted only on Google Cloud ("
              + K_SERVICE
              + " set), where Google's front end checks the signature it removes");
    }
    if (trustPlatformVerifiedTokens) {
      requireSecondGeneration(env, generation);
    }
    this.keyFetchTimeout = seconds(env, VerifierSettings.KEY_FETCH_TIMEOUT);
    this.keyRefetchInterval = seconds(env, VerifierSettings.KEY_REFETCH_INTERVAL);
    this.project = project(env);
  }

  /**
   * Reads the configuration from environment variables, e.g. {@code
   * GuardConfig.fromEnvironment(System.getenv())}.
   *
   * @throws InvalidConfigurationException naming the first variable at fault
   */
  public static GuardConfig fromEnvironment(Map<String, String> env) {
    return new GuardConfig(Objects.requireNonNull(env, "env"));
  }

  /**
   * Builds the verifier this configuration describes. It fetches no key yet: call {@link
   * CallerVerifier#prefetchKeys()} (as {@link GuardedFunction#fromEnvironment} does).
   */
  public CallerVerifier newVerifier() {
    return newVerifier(KeyHealthListener.systemLogger());
  }

  /**
   * As {@link #newVerifier()}, reporting the key set's state changes to {@code keyHealth} ({@link
   * GuardedFunction#keyHealthLines()} writes them as JSON lines on stdout).
   */
  public CallerVerifier newVerifier(KeyHealthListener keyHealth) {
    CallerVerifier.Builder builder =
        CallerVerifier.builder()
            .keyHealthListener(keyHealth)
            .allowlist(allowlist)
            .expectedAudiences(audiences)
            .jwksUri(jwksUri)
            .issuers(issuers.toArray(String[]::new))
            .clockSkew(clockSkew)
            .keyFetchTimeout(keyFetchTimeout)
            .keyRefetchInterval(keyRefetchInterval);
    if (trustPlatformVerifiedTokens) {
      builder.trustPlatformVerifiedTokens();
    }
    return builder.build();
  }

  /** The allowlist of {@code ALLOWED_INVOKERS}. */
  public ServiceAccountAllowlist allowlist() {
    return allowlist;
  }

  /** The audiences of {@code EXPECTED_AUDIENCES}, in order. */
  public List<String> audiences() {
    return audiences;
  }

  /** {@code JWKS_URL}, or Google's. */
  public URI jwksUri() {
    return jwksUri;
  }

  /** {@code TOKEN_ISSUERS}, or Google's two. */
  public List<String> issuers() {
    return issuers;
  }

  /** {@code CLOCK_SKEW_SECONDS}. */
  public Duration clockSkew() {
    return clockSkew;
  }

  /** {@code TRUST_PLATFORM_VERIFIED_TOKENS}. */
  public boolean trustPlatformVerifiedTokens() {
    return trustPlatformVerifiedTokens;
  }

  /** {@code KEY_FETCH_TIMEOUT_SECONDS}. */
  public Duration keyFetchTimeout() {
    return keyFetchTimeout;
  }

  /**
   * {@code KEY_REFETCH_INTERVAL_SECONDS}: no key fetch starts sooner after the last one, so it is
   * also the {@code Retry-After} of a 503 (RFC 9110 section 10.2.3).
   */
  public Duration keyRefetchInterval() {
    return keyRefetchInterval;
  }

  /**
   * The Google Cloud project, for trace links in logs, from {@code GOOGLE_CLOUD_PROJECT} or {@code
   * GCP_PROJECT}.
   */
  public Optional<String> project() {
    return project;
  }

  @Override
  public String toString() {
    return "GuardConfig{allowlist="
        + allowlist
        + ", audiences="
        + audiences
        + ", jwksUri="
        + jwksUri
        + ", issuers="
        + issuers
        + ", clockSkew="
        + clockSkew
        + ", trustPlatformVerifiedTokens="
        + trustPlatformVerifiedTokens
        + "}";
  }

  private static ServiceAccountAllowlist allowlist(Map<String, String> env) {
    List<String> entries = list(env, ALLOWED_INVOKERS, null);
    for (String entry : entries) {
      // The rule lives in ServiceAccountAllowlist only; asked per entry to name the one at fault.
      if (!ServiceAccountAllowlist.isEntry(entry)) {
        throw new InvalidConfigurationException(
            ALLOWED_INVOKERS,
            "entry "
                + UntrustedText.quoted(entry)
                + " is not a service-account email or numeric unique ID");
      }
    }
    // One parser, one answer: the allowlist's own parser decides on the variable as given (it
    // refuses an entry padded with Unicode spaces, which the strip() above would have hidden);
    // the checks above only name the first entry at fault more precisely.
    try {
      return ServiceAccountAllowlist.parse(env.get(ALLOWED_INVOKERS));
    } catch (IllegalArgumentException e) {
      throw new InvalidConfigurationException(ALLOWED_INVOKERS, e.getMessage());
    }
  }

  private static URI jwksUri(Map<String, String> env, boolean onGoogleCloud) {
    String value = env.get(JWKS_URL);
    if (value == null) {
      return CallerVerifier.GOOGLE_JWKS_URI;
    }
    URI uri;
    try {
      uri = new URI(value);
    } catch (URISyntaxException e) {
      throw new InvalidConfigurationException(
          JWKS_URL, UntrustedText.quoted(value) + " is not a URL");
    }
    if (onGoogleCloud && !uri.equals(CallerVerifier.GOOGLE_JWKS_URI)) {
      throw new InvalidConfigurationException(
          JWKS_URL,
          "only Google's key set "
              + CallerVerifier.GOOGLE_JWKS_URI
              + " is accepted on Google Cloud ("
              + K_SERVICE
              + " is set), got "
              + UntrustedText.quoted(value));
    }
    if (!CallerVerifier.isAcceptableJwksUri(uri)) {
      throw new InvalidConfigurationException(
          JWKS_URL,
          "must be an https URL (or http on loopback), got " + UntrustedText.quoted(value));
    }
    return uri;
  }

  private static List<String> issuers(Map<String, String> env, boolean onGoogleCloud) {
    List<String> issuers = list(env, TOKEN_ISSUERS, CallerVerifier.GOOGLE_ISSUERS);
    if (onGoogleCloud) {
      for (String issuer : issuers) {
        if (!CallerVerifier.GOOGLE_ISSUERS.contains(issuer)) {
          throw new InvalidConfigurationException(
              TOKEN_ISSUERS,
              "only Google's issuers "
                  + CallerVerifier.GOOGLE_ISSUERS
                  + " are accepted on Google Cloud ("
                  + K_SERVICE
                  + " is set), got "
                  + UntrustedText.quoted(issuer));
        }
      }
    }
    return issuers;
  }

  /**
   * A comma-separated list; spaces around items are ignored, an empty item is an error (a typo such
   * as a doubled comma must not pass silently).
   *
   * @param defaults the value when the variable is unset, or {@code null} when it is required
   */
  private static List<String> list(Map<String, String> env, String name, List<String> defaults) {
    String value = env.get(name);
    if (value == null) {
      if (defaults == null) {
        throw new InvalidConfigurationException(name, "is required but not set");
      }
      return defaults;
    }
    if (value.isBlank()) {
      throw new InvalidConfigurationException(name, "is empty; give at least one entry");
    }
    List<String> items = new ArrayList<>();
    for (String raw : value.split(",", -1)) {
      String item = raw.strip();
      if (item.isEmpty()) {
        throw new InvalidConfigurationException(
            name, "has an empty entry (two commas in a row, or a comma at either end)");
      }
      if (CONTROL_OR_SPACE.matcher(item).find()) {
        throw new InvalidConfigurationException(
            name, "entry " + UntrustedText.quoted(item) + " contains spaces or control characters");
      }
      if (!items.contains(item)) {
        items.add(item);
      }
    }
    return List.copyOf(items);
  }

  /**
   * A duration setting in whole seconds from its variable, checked by the setting's own range: the
   * environment accepts exactly the whole seconds the builder accepts.
   */
  private static Duration seconds(Map<String, String> env, Setting<Duration> setting) {
    String name = setting.environmentVariable();
    String value = env.get(name);
    if (value == null) {
      return setting.defaultValue();
    }
    if (!DIGITS.matcher(value).matches()) {
      throw new InvalidConfigurationException(
          name, "must be a whole number of seconds, got " + UntrustedText.quoted(value));
    }
    long seconds = Long.parseLong(value);
    try {
      return setting.check(Duration.ofSeconds(seconds));
    } catch (IllegalArgumentException e) {
      // The range in the variable's unit: the first and last whole second inside it.
      long min = setting.min().getSeconds() + (setting.min().getNano() > 0 ? 1 : 0);
      throw new InvalidConfigurationException(
          name,
          "must be between "
              + min
              + " and "
              + setting.max().getSeconds()
              + " seconds, got "
              + seconds);
    }
  }

  /** {@code FUNCTION_GENERATION}: {@code null} when unset, else exactly gen1 or gen2. */
  private static String generation(Map<String, String> env) {
    String value = env.get(FUNCTION_GENERATION);
    if (value == null || value.equals("gen1") || value.equals("gen2")) {
      return value;
    }
    throw new InvalidConfigurationException(
        FUNCTION_GENERATION,
        "must be exactly 'gen1' or 'gen2', got " + UntrustedText.quoted(value));
  }

  /**
   * Trusting a removed signature is safe only where Google's front end judged the token that
   * arrives in {@code X-Serverless-Authorization}, the header the verifier judges first. Google's
   * documents say so for Cloud Run (2nd gen) and say nothing of it for 1st gen; were it not judged
   * there, a caller with IAM access could send its own valid {@code Authorization} and a forged
   * token ending in {@code SIGNATURE_REMOVED_BY_GOOGLE} in {@code X-Serverless-Authorization}. So
   * 1st gen, and an unknown generation, are refused (SECURITY.md).
   */
  private static void requireSecondGeneration(Map<String, String> env, String generation) {
    if ("gen1".equals(generation)) {
      throw new InvalidConfigurationException(
          TRUST_PLATFORM_VERIFIED_TOKENS,
          "'true' is refused on 1st gen ("
              + FUNCTION_GENERATION
              + "=gen1): Google does not document that 1st gen judges X-Serverless-Authorization");
    }
    if (generation == null) {
      throw new InvalidConfigurationException(
          TRUST_PLATFORM_VERIFIED_TOKENS,
          "'true' needs "
              + FUNCTION_GENERATION
              + "=gen2: it is safe only on 2nd gen, and the generation is not known");
    }
    for (String firstGen : FIRST_GEN_VARIABLES) {
      if (env.containsKey(firstGen)) {
        throw new InvalidConfigurationException(
            TRUST_PLATFORM_VERIFIED_TOKENS,
            "'true' is refused: "
                + firstGen
                + " is set, which only 1st gen sets, though "
                + FUNCTION_GENERATION
                + " says gen2");
      }
    }
  }

  private static boolean bool(Map<String, String> env, String name) {
    String value = env.get(name);
    if (value == null || value.equals("false")) {
      return false;
    }
    if (value.equals("true")) {
      return true;
    }
    throw new InvalidConfigurationException(
        name, "must be exactly 'true' or 'false', got " + UntrustedText.quoted(value));
  }

  /**
   * The project from {@code GOOGLE_CLOUD_PROJECT}, else {@code GCP_PROJECT} (older runtimes),
   * stripped; empty when neither names one. The one lookup of the project.
   */
  static Optional<String> project(Map<String, String> env) {
    for (String name : List.of("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT")) {
      String value = env.get(name);
      if (value != null && !value.isBlank()) {
        return Optional.of(value.strip());
      }
    }
    return Optional.empty();
  }
}
