package dev.invokerguard.deployplan;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** deploy.sh's command line as given: each option as {@code --opt VALUE} or {@code --opt=VALUE}. */
final class Cli {
  /** Options with a value, to the setting key they set (INVOKER_GUARD_ + key). */
  private static final Map<String, String> VALUED =
      Map.ofEntries(
          Map.entry("--project", "PROJECT"),
          Map.entry("--region", "REGION"),
          Map.entry("--name", "NAME"),
          Map.entry("--runtime", "RUNTIME"),
          Map.entry("--service-account", "SERVICE_ACCOUNT"),
          Map.entry("--source", "SOURCE"),
          Map.entry("--entry-point", "ENTRY_POINT"),
          Map.entry("--smoke-test", "SMOKE_TEST"),
          Map.entry("--smoke-test-timeout", "SMOKE_TEST_TIMEOUT"),
          Map.entry("--denied-alert-threshold", "DENIED_ALERT_THRESHOLD"),
          Map.entry("--alert-window-minutes", "ALERT_WINDOW_MINUTES"));

  private static final Map<String, String> SWITCHES =
      Map.of(
          "--monitoring", "MONITORING",
          "--monitoring-only", "MONITORING_ONLY",
          "--pin-ids", "PIN_IDS",
          "--gen1", "GEN1",
          "--dry-run", "DRY_RUN");

  private static final Set<String> REPEATED =
      Set.of("--allow", "--audience", "--notification-channel", "--env-file");

  final Map<String, String> values = new HashMap<>();
  final Map<String, String> guard = new HashMap<>();
  final List<String> allow = new ArrayList<>();
  final List<String> audiences = new ArrayList<>();
  final List<String> channels = new ArrayList<>();
  String envFile;
  boolean sourceGiven;
  boolean help;

  private Cli() {}

  static Cli parse(List<String> args) {
    Cli cli = new Cli();
    List<String> guardFlags = new ArrayList<>();
    guardFlags.add(Options.flagOf(Options.TRUST));
    for (var setting : Options.GUARD_DURATIONS) {
      guardFlags.add(Options.flagOf(setting.environmentVariable()));
    }
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      if (arg.equals("-h") || arg.equals("--help")) {
        cli.help = true;
        return cli;
      }
      if (SWITCHES.containsKey(arg)) {
        cli.values.put(SWITCHES.get(arg), "true");
        continue;
      }
      String option = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
      boolean known =
          VALUED.containsKey(option)
              || REPEATED.contains(option)
              || guardFlags.contains(option.substring(Math.min(2, option.length())));
      if (!known || !option.startsWith("--")) {
        throw new UsageError("unknown argument '" + arg + "' (see --help)");
      }
      String value;
      if (arg.contains("=")) {
        value = arg.substring(arg.indexOf('=') + 1);
      } else {
        // An option's value must be present and must not be the next option (--allow --dry-run).
        Options.require(
            i + 1 < args.size() && !args.get(i + 1).isEmpty() && !args.get(i + 1).startsWith("--"),
            option + " needs a value");
        value = args.get(++i);
      }
      cli.set(option, value);
    }
    return cli;
  }

  private void set(String option, String value) {
    switch (option) {
      case "--allow" -> allow.add(value);
      case "--audience" -> audiences.add(value);
      case "--notification-channel" -> channels.add(value);
      case "--env-file" -> envFile = value.isEmpty() ? null : value;
      default -> {
        if (VALUED.containsKey(option)) {
          values.put(VALUED.get(option), value);
          sourceGiven |= option.equals("--source");
        } else {
          guard.put(variableOf(option), value);
        }
      }
    }
  }

  /** --clock-skew-seconds to CLOCK_SKEW_SECONDS. */
  private static String variableOf(String flag) {
    return flag.substring(2).replace('-', '_').toUpperCase(java.util.Locale.ROOT);
  }
}
