package dev.invokerguard.deployplan;

import dev.invokerguard.guard.GuardConfig;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import dev.invokerguard.verifier.Setting;
import dev.invokerguard.verifier.VerifierSettings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * deploy.sh's settings from its command line, the environment and the env file (in that order of
 * precedence), every one checked before any gcloud call, in the order of the messages a user meets.
 * Immutable.
 */
final class Options {
  static final String DEFAULT_ENTRY_POINT = "dev.invokerguard.function.ProtectedFunction";
  static final String DEFAULT_NAME = "invoker-guard";
  static final String DEFAULT_RUNTIME = "java21";
  static final int DEFAULT_SMOKE_TIMEOUT = 300;
  static final int DEFAULT_DENIED_ALERT_THRESHOLD = 20;
  static final int DEFAULT_ALERT_WINDOW_MINUTES = 5;

  private static final Pattern CLASS =
      Pattern.compile("[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)*");
  // A custom audience: an https URL without spaces, commas or the env delimiter.
  private static final Pattern AUDIENCE =
      Pattern.compile("https://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\\s,|]*)?");
  // Where smoke-test requests go instead of the function's URL, for tests against a local
  // stand-in only: loopback and plain http (the token's audience stays the function's URL).
  private static final Pattern SMOKE_OVERRIDE =
      Pattern.compile("http://127\\.0\\.0\\.1:[0-9]{1,5}/?");
  static final Pattern PROJECT = Pattern.compile("[a-z][a-z0-9-]{4,28}[a-z0-9]");
  private static final Pattern REGION = Pattern.compile("[a-z]+(-[a-z]+)+[0-9]+");
  // Lower case only: for 2nd gen the name becomes a Cloud Run service name, and it is part of the
  // audience URL, which must match the token's aud exactly.
  private static final Pattern NAME = Pattern.compile("[a-z]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final Pattern RUNTIME = Pattern.compile("java[0-9]+");
  private static final Pattern CHANNEL_ID = Pattern.compile("[0-9]{1,30}");
  private static final Pattern CHANNEL_NAME =
      Pattern.compile("projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/[0-9]{1,30}");
  private static final Pattern ENV_LINE = Pattern.compile("([A-Z_][A-Z0-9_]*)=(.*)");
  private static final Pattern QUOTED = Pattern.compile("\"(.*)\"|'(.*)'");

  /**
   * The guard's settings (verifier-functions {@link GuardConfig}) deploy.sh sets when given, by
   * their own {@link Setting} (the range) or as a boolean. Not given: left as the function has it.
   * JWKS_URL and TOKEN_ISSUERS are not offered: on Google Cloud the guard accepts Google's only.
   */
  static final List<Setting<Duration>> GUARD_DURATIONS =
      List.of(
          VerifierSettings.CLOCK_SKEW,
          VerifierSettings.KEY_FETCH_TIMEOUT,
          VerifierSettings.KEY_REFETCH_INTERVAL);

  static final String TRUST = GuardConfig.TRUST_PLATFORM_VERIFIED_TOKENS;

  private static final List<String> SCALAR_KEYS =
      List.of(
          "PROJECT",
          "REGION",
          "NAME",
          "GEN1",
          "RUNTIME",
          "SERVICE_ACCOUNT",
          "SOURCE",
          "DRY_RUN",
          "ENTRY_POINT",
          "PIN_IDS",
          "SMOKE_TEST",
          "SMOKE_TEST_TIMEOUT",
          "MONITORING",
          "MONITORING_ONLY",
          "DENIED_ALERT_THRESHOLD",
          "ALERT_WINDOW_MINUTES");

  /** Every key the environment and the env file may set, without the INVOKER_GUARD_ prefix. */
  static final Set<String> KNOWN_KEYS = knownKeys();

  final String project;
  final String region;
  final String name;
  final String runtime;
  final String runtimeServiceAccount;
  final String entryPoint;
  final boolean gen1;
  final boolean dryRun;
  final boolean pinIds;
  final String smokeServiceAccount;
  final int smokeTimeout;
  final String smokeUrlOverride;

  /** The source given, or empty for the default artifact (function/target/deploy). */
  final String source;

  final boolean monitoring;
  final boolean monitoringOnly;
  final int deniedThreshold;
  final int alertWindowMinutes;
  final List<String> channels;

  final List<String> entries;
  final List<String> customAudiences;

  /** The guard variables given, checked, in a stable order. */
  final Map<String, String> guard;

  private Options(Cli cli, Map<String, String> env, Map<String, String> file) {
    Values values = new Values(cli.values, env, file);
    project = values.get("PROJECT", "");
    region = values.get("REGION", "");
    name = values.get("NAME", DEFAULT_NAME);
    runtime = values.get("RUNTIME", DEFAULT_RUNTIME);
    String serviceAccount = values.get("SERVICE_ACCOUNT", "");
    entryPoint = values.get("ENTRY_POINT", DEFAULT_ENTRY_POINT);
    gen1 = values.bool("GEN1");
    dryRun = values.bool("DRY_RUN");
    pinIds = values.bool("PIN_IDS");
    String smoke = values.get("SMOKE_TEST", "");
    String smokeTimeoutValue = values.get("SMOKE_TEST_TIMEOUT", "" + DEFAULT_SMOKE_TIMEOUT);
    // Test seam, environment only (never the env file): see SMOKE_OVERRIDE.
    smokeUrlOverride = env.getOrDefault("INVOKER_GUARD_SMOKE_TEST_URL_OVERRIDE", "");
    if (cli.sourceGiven) {
      if (cli.values.get("SOURCE").isEmpty()) {
        throw new UsageError("--source needs a value");
      }
      source = cli.values.get("SOURCE");
    } else {
      source = values.fromEnvironment("SOURCE", "");
    }

    require(!project.isEmpty(), "no project: pass --project or set INVOKER_GUARD_PROJECT");
    require(PROJECT.matcher(project).matches(), "'" + project + "' is not a valid project ID");
    require(!region.isEmpty(), "no region: pass --region or set INVOKER_GUARD_REGION");
    require(REGION.matcher(region).matches(), "'" + region + "' is not a valid region");
    require(
        NAME.matcher(name).matches(),
        "'" + name + "' is not a valid function name (lower-case letters, digits, hyphens; 1-63)");
    require(
        RUNTIME.matcher(runtime).matches(),
        "'" + runtime + "' is not a Java runtime (e.g. java21)");
    require(
        CLASS.matcher(entryPoint).matches(),
        "'" + entryPoint + "' is not a Java class name (e.g. com.example.MyFunction)");

    // --monitoring-only implies --monitoring. An alert option without either is refused: it
    // would silently do nothing.
    monitoringOnly = values.bool("MONITORING_ONLY");
    monitoring = monitoringOnly || values.bool("MONITORING");
    String threshold = values.get("DENIED_ALERT_THRESHOLD", "");
    String window = values.get("ALERT_WINDOW_MINUTES", "");
    boolean alertOptionGiven = !threshold.isEmpty() || !window.isEmpty();
    deniedThreshold =
        number(
            threshold.isEmpty() ? "" + DEFAULT_DENIED_ALERT_THRESHOLD : threshold,
            1_000_000,
            "--denied-alert-threshold must be a whole number from 1 to 1000000");
    alertWindowMinutes =
        number(
            window.isEmpty() ? "" + DEFAULT_ALERT_WINDOW_MINUTES : window,
            60,
            "--alert-window-minutes must be a whole number from 1 to 60");
    Set<String> channelNames = new LinkedHashSet<>();
    for (String channel : values.list(cli.channels, "NOTIFICATION_CHANNELS")) {
      alertOptionGiven = true;
      if (CHANNEL_ID.matcher(channel).matches()) {
        channel = "projects/" + project + "/notificationChannels/" + channel;
      } else if (!CHANNEL_NAME.matcher(channel).matches()) {
        throw new UsageError(
            "--notification-channel '"
                + channel
                + "' is not a channel ID or projects/PROJECT/notificationChannels/ID");
      }
      channelNames.add(channel);
    }
    channels = List.copyOf(channelNames);
    require(
        !alertOptionGiven || monitoring,
        "the alert options need --monitoring or --monitoring-only");

    List<String> allowValues = new ArrayList<>(cli.allow);
    if (allowValues.isEmpty()) {
      String fromEnvironment = values.fromEnvironment("ALLOW", "");
      if (!fromEnvironment.isEmpty()) {
        allowValues.add(fromEnvironment);
      }
    }
    entries = Allowlist.entries(allowValues);
    require(
        !entries.isEmpty() || monitoringOnly,
        "no allowlisted caller: pass --allow SA_EMAIL or set INVOKER_GUARD_ALLOW");
    require(
        serviceAccount.isEmpty() || ServiceAccountAllowlist.isServiceAccountEmail(serviceAccount),
        "--service-account '" + serviceAccount + "' is not a service-account email");
    runtimeServiceAccount = Allowlist.lower(serviceAccount);

    Set<String> audiences = new LinkedHashSet<>();
    for (String url : values.list(cli.audiences, "AUDIENCES")) {
      require(AUDIENCE.matcher(url).matches(), "--audience '" + url + "' is not an https URL");
      audiences.add(url);
    }
    customAudiences = List.copyOf(audiences);
    require(
        customAudiences.isEmpty() || !gen1,
        "--audience needs 2nd gen: custom audiences are a Cloud Run setting");

    guard = guardSettings(cli, values);
    require(
        !("true".equals(guard.get(TRUST)) && gen1),
        TRUST + "=true is for 2nd gen only (see SECURITY.md)");

    if (!smoke.isEmpty()) {
      require(!monitoringOnly, "--smoke-test needs a deploy: it cannot go with --monitoring-only");
      require(
          ServiceAccountAllowlist.isServiceAccountEmail(smoke),
          "--smoke-test '" + smoke + "' is not a service-account email");
      smoke = Allowlist.lower(smoke);
      String account = smoke;
      require(
          entries.stream().anyMatch(entry -> entry.split("=", 2)[0].equals(account)),
          "--smoke-test '" + smoke + "' is not on the allowlist: it would be refused");
    }
    smokeServiceAccount = smoke;
    smokeTimeout =
        smoke.isEmpty()
            ? DEFAULT_SMOKE_TIMEOUT
            : number(
                smokeTimeoutValue,
                99_999,
                "--smoke-test-timeout must be a whole number of seconds");
    require(
        smokeUrlOverride.isEmpty() || SMOKE_OVERRIDE.matcher(smokeUrlOverride).matches(),
        "INVOKER_GUARD_SMOKE_TEST_URL_OVERRIDE must be http://127.0.0.1:PORT (tests only)");
    checkSource();
  }

  /**
   * Reads the settings.
   *
   * @param args deploy.sh's arguments, as given
   * @param env the environment
   * @return the settings, or empty when {@code --help} was asked for
   * @throws UsageError at the first bad input
   */
  static java.util.Optional<Options> read(List<String> args, Map<String, String> env) {
    Cli cli = Cli.parse(args);
    if (cli.help) {
      return java.util.Optional.empty();
    }
    Map<String, String> file = cli.envFile == null ? Map.of() : readEnvFile(cli.envFile);
    return java.util.Optional.of(new Options(cli, env, file));
  }

  /** The generation deploy.sh deploys: 1 or 2. */
  int generation() {
    return gen1 ? 1 : 2;
  }

  /** The invoker role on the function (1st gen) or its Cloud Run service (2nd gen). */
  String invokerRole() {
    return gen1 ? "roles/cloudfunctions.invoker" : "roles/run.invoker";
  }

  /** The cloudfunctions.net URL: an audience of either generation. */
  String functionsUrl() {
    return "https://" + region + "-" + project + ".cloudfunctions.net/" + name;
  }

  private void checkSource() {
    if (!source.isEmpty()) {
      sourceKind(Path.of(source), false);
    }
  }

  /**
   * What deploy.sh does with the source: {@code jar} (a jar file, staged in a directory of its
   * own), {@code dir} (a directory holding exactly one jar, uploaded as it is) or {@code build}
   * (the default artifact is not built yet).
   *
   * @param isDefault whether it is the default artifact, which may be missing (it is built)
   * @throws UsageError when the source is not one of these
   */
  static String sourceKind(Path path, boolean isDefault) {
    if (Files.isRegularFile(path)) {
      require(path.toString().endsWith(".jar"), "source file '" + path + "' is not a .jar");
      return "jar";
    }
    if (!Files.isDirectory(path)) {
      require(
          isDefault,
          "source '" + path + "' does not exist (give a directory with one jar, or a jar)");
      return "build";
    }
    long jars;
    try (var files = Files.list(path)) {
      jars = files.filter(file -> file.getFileName().toString().endsWith(".jar")).count();
    } catch (IOException e) {
      throw new UsageError("source directory '" + path + "' cannot be read");
    }
    if (jars == 0 && isDefault) {
      return "build";
    }
    require(jars != 0, "source directory '" + path + "' holds no jar: build the function first");
    require(
        jars == 1, "source directory '" + path + "' holds " + jars + " jars; expected exactly one");
    return "dir";
  }

  /** The source to deploy: the one given, or the default artifact function/target/deploy. */
  Path sourcePath() {
    return source.isEmpty() ? repositoryRoot().resolve("function/target/deploy") : Path.of(source);
  }

  /** The repository this planner was built in: its jar is deploy-plan/target/deploy-plan.jar. */
  static Path repositoryRoot() {
    try {
      Path location =
          Path.of(Options.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return location.toAbsolutePath().getParent().getParent().getParent();
    } catch (java.net.URISyntaxException | SecurityException e) {
      throw new IllegalStateException("cannot locate the repository of the planner", e);
    }
  }

  private static Map<String, String> guardSettings(Cli cli, Values values) {
    Map<String, String> guard = new LinkedHashMap<>();
    List<String> variables = new ArrayList<>();
    variables.add(TRUST);
    GUARD_DURATIONS.forEach(setting -> variables.add(setting.environmentVariable()));
    for (String variable : variables) {
      String value =
          cli.guard.containsKey(variable)
              ? cli.guard.get(variable)
              : values.fromEnvironment(variable, "");
      if (value.isEmpty()) {
        require(!cli.guard.containsKey(variable), "--" + flagOf(variable) + " needs a value");
        continue;
      }
      guard.put(variable, guardValue(variable, value));
    }
    return guard;
  }

  /** Checks one guard setting's value against the guard's own range; returns it normalized. */
  static String guardValue(String variable, String value) {
    if (variable.equals(TRUST)) {
      require(
          value.equals("true") || value.equals("false"),
          variable + " must be exactly true or false, got '" + value + "'");
      return value;
    }
    Setting<Duration> setting =
        GUARD_DURATIONS.stream()
            .filter(s -> s.environmentVariable().equals(variable))
            .findFirst()
            .orElseThrow(() -> new UsageError("unknown guard setting " + variable));
    // The range in whole seconds: the first and last whole second inside the setting's range.
    long low = setting.min().getSeconds() + (setting.min().getNano() > 0 ? 1 : 0);
    long high = setting.max().getSeconds();
    String message =
        variable
            + " must be a whole number of seconds from "
            + low
            + " to "
            + high
            + ", got '"
            + value
            + "'";
    require(value.matches("[0-9]{1,5}"), message);
    long seconds = Long.parseLong(value);
    try {
      setting.check(Duration.ofSeconds(seconds));
    } catch (IllegalArgumentException e) {
      throw new UsageError(message);
    }
    return Long.toString(seconds);
  }

  /** --clock-skew-seconds for CLOCK_SKEW_SECONDS. */
  static String flagOf(String variable) {
    return variable.toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** A whole number from 1 to {@code high}, leading zeros allowed. */
  private static int number(String value, int high, String message) {
    int digits = Integer.toString(high).length();
    if (!value.matches("[0-9]{1," + digits + "}")
        || Integer.parseInt(value) < 1
        || Integer.parseInt(value) > high) {
      throw new UsageError(message + ", got '" + value + "'");
    }
    return Integer.parseInt(value);
  }

  static void require(boolean condition, String message) {
    if (!condition) {
      throw new UsageError(message);
    }
  }

  /**
   * KEY=VALUE lines, read without any expansion: blank lines and lines starting with # ignored, a
   * value may be wrapped in single or double quotes, only known INVOKER_GUARD_* keys.
   */
  static Map<String, String> readEnvFile(String file) {
    Path path = Path.of(file);
    List<String> lines;
    try {
      require(Files.isRegularFile(path) && Files.isReadable(path), "");
      lines = Files.readAllLines(path, StandardCharsets.UTF_8);
    } catch (IOException | UsageError | java.io.UncheckedIOException e) {
      throw new UsageError("env file '" + file + "' is not a readable file");
    }
    Map<String, String> values = new HashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      Matcher matcher = ENV_LINE.matcher(line);
      String where = "env file '" + file + "' line " + (i + 1) + ": ";
      require(matcher.matches(), where + "expected KEY=VALUE");
      String key = matcher.group(1);
      require(
          key.startsWith("INVOKER_GUARD_") && KNOWN_KEYS.contains(key.substring(14)),
          where + "unknown key " + key);
      String value = matcher.group(2);
      Matcher quoted = QUOTED.matcher(value);
      if (quoted.matches()) {
        value = quoted.group(1) != null ? quoted.group(1) : quoted.group(2);
      }
      values.put(key, value);
    }
    return values;
  }

  private static Set<String> knownKeys() {
    Set<String> keys = new LinkedHashSet<>(SCALAR_KEYS);
    keys.addAll(List.of("ALLOW", "AUDIENCES", "NOTIFICATION_CHANNELS", TRUST));
    GUARD_DURATIONS.forEach(setting -> keys.add(setting.environmentVariable()));
    return Set.copyOf(keys);
  }

  /** A setting's value: the command line, then the environment, then the env file. */
  private record Values(
      Map<String, String> cli, Map<String, String> env, Map<String, String> file) {
    /** The command line's value unless empty, else {@link #fromEnvironment}. */
    String get(String key, String defaultValue) {
      String value = cli.getOrDefault(key, "");
      return value.isEmpty() ? fromEnvironment(key, defaultValue) : value;
    }

    /** The environment wins over the env file; a variable set but empty counts as set. */
    String fromEnvironment(String key, String defaultValue) {
      String variable = "INVOKER_GUARD_" + key;
      if (env.containsKey(variable)) {
        return env.get(variable);
      }
      return file.getOrDefault(variable, defaultValue);
    }

    boolean bool(String key) {
      String value = get(key, "false");
      return switch (value.toLowerCase(Locale.ROOT)) {
        case "true", "1", "yes" -> true;
        case "false", "0", "no", "" -> false;
        default ->
            throw new UsageError(
                "INVOKER_GUARD_" + key + " must be true or false, got '" + value + "'");
      };
    }

    /**
     * The repeatable option's values, else the comma-separated variable's (a last empty item
     * dropped, as bash's read -a does).
     */
    List<String> list(List<String> given, String key) {
      if (!given.isEmpty()) {
        return given;
      }
      String value = fromEnvironment(key, "");
      if (value.isEmpty()) {
        return List.of();
      }
      List<String> items = new ArrayList<>(List.of(value.split(",", -1)));
      if (items.get(items.size() - 1).isEmpty()) {
        items.remove(items.size() - 1);
      }
      return items;
    }
  }
}
