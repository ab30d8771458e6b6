package dev.invokerguard.deployplan;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.verifier.VerifierSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The settings: precedence of the command line, the environment and the env file, and every check
 * before any gcloud call, the guard settings' ranges taken from the guard's own {@code Setting}s.
 */
class OptionsTest {
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String BOB = "bob@client-two.iam.gserviceaccount.com";

  @TempDir Path temp;

  private static Options read(Map<String, String> env, String... args) {
    return Options.read(List.of(args), env).orElseThrow();
  }

  private static List<String> base(String... extra) {
    List<String> args =
        new ArrayList<>(List.of("--project", "host-proj", "--region", "europe-west1"));
    args.addAll(List.of(extra));
    return args;
  }

  private static String refusal(Map<String, String> env, List<String> args) {
    return assertThrows(UsageError.class, () -> Options.read(args, env)).getMessage();
  }

  @Test
  void commandLine_thenEnvironment_thenEnvFile() throws Exception {
    Path file = temp.resolve("deploy.env");
    Files.writeString(
        file,
        "# comment\n\nINVOKER_GUARD_NAME='from-file'\nINVOKER_GUARD_RUNTIME=\"java17\"\n"
            + "INVOKER_GUARD_ALLOW="
            + BOB
            + "\nINVOKER_GUARD_REGION=us-central1\n");
    Options options =
        read(
            Map.of("INVOKER_GUARD_RUNTIME", "java25", "INVOKER_GUARD_REGION", "asia-east1"),
            "--project",
            "host-proj",
            "--env-file",
            file.toString(),
            "--allow",
            ALICE,
            "--region=europe-west1");

    assertThat(options.region).isEqualTo("europe-west1");
    assertThat(options.runtime).isEqualTo("java25");
    assertThat(options.name).isEqualTo("from-file");
    // --allow replaces INVOKER_GUARD_ALLOW, it does not add to it.
    assertThat(options.entries).containsExactly(ALICE);
  }

  @Test
  void help_anywhere_givesNoSettings() {
    assertThat(Options.read(List.of("--project", "x", "--help"), Map.of())).isEmpty();
  }

  @Test
  void guardSettings_setOnlyWhenGiven_normalized_inAStableOrder() {
    Options options =
        read(
            Map.of("INVOKER_GUARD_KEY_REFETCH_INTERVAL_SECONDS", "030"),
            base("--allow", ALICE, "--clock-skew-seconds=0").toArray(String[]::new));

    assertThat(options.guard)
        .containsExactly("CLOCK_SKEW_SECONDS", "0", "KEY_REFETCH_INTERVAL_SECONDS", "30")
        .inOrder();
  }

  /** The bounds are the guard's own: a changed {@code Setting} changes what deploy.sh accepts. */
  @Test
  void guardSettingRanges_comeFromTheVerifiersSettings() {
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--clock-skew-seconds", "301")))
        .isEqualTo("CLOCK_SKEW_SECONDS must be a whole number of seconds from 0 to 300, got '301'");
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--key-fetch-timeout-seconds", "0")))
        .isEqualTo(
            "KEY_FETCH_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 60, got '0'");
    long max = VerifierSettings.KEY_REFETCH_INTERVAL.max().getSeconds();
    assertThat(
            refusal(
                Map.of(),
                base("--allow", ALICE, "--key-refetch-interval-seconds", Long.toString(max + 1))))
        .contains("from 1 to " + max + ",");
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--trust-platform-verified-tokens", "yes")))
        .isEqualTo("TRUST_PLATFORM_VERIFIED_TOKENS must be exactly true or false, got 'yes'");
    assertThat(
            refusal(
                Map.of(),
                base("--allow", ALICE, "--gen1", "--trust-platform-verified-tokens=true")))
        .contains("is for 2nd gen only");
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--clock-skew-seconds=")))
        .isEqualTo("--clock-skew-seconds needs a value");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "just some words|line 1: expected KEY=VALUE",
        "INVOKER_GUARD_PROJEKT=host-proj|line 1: unknown key INVOKER_GUARD_PROJEKT",
        "PATH=/tmp|line 1: unknown key PATH",
        "INVOKER_GUARD_GEN1=maybe|INVOKER_GUARD_GEN1 must be true or false, got 'maybe'"
      })
  void badEnvFile_isRefusedNamingTheLine(String content, String expected) throws Exception {
    Path file = temp.resolve("bad.env");
    Files.writeString(file, content + "\n");
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--env-file", file.toString())))
        .contains(expected);
  }

  @Test
  void envFile_valueIsNeitherExpandedNorExecuted() throws Exception {
    Path file = temp.resolve("deploy.env");
    Files.writeString(file, "INVOKER_GUARD_NAME=$(touch pwned)\n");
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--env-file", file.toString())))
        .isEqualTo(
            "'$(touch pwned)' is not a valid function name (lower-case letters, digits, hyphens;"
                + " 1-63)");
  }

  @Test
  void monitoringOptions_checkedAndChannelIdsNamedInTheHostProject() {
    Options options =
        read(
            Map.of(
                "INVOKER_GUARD_NOTIFICATION_CHANNELS",
                "123,projects/host-proj/notificationChannels/9,123"),
            base("--monitoring-only", "--alert-window-minutes", "15").toArray(String[]::new));

    assertThat(options.monitoring).isTrue();
    assertThat(options.entries).isEmpty();
    assertThat(options.alertWindowMinutes).isEqualTo(15);
    assertThat(options.channels)
        .containsExactly(
            "projects/host-proj/notificationChannels/123",
            "projects/host-proj/notificationChannels/9")
        .inOrder();
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--denied-alert-threshold", "5")))
        .isEqualTo("the alert options need --monitoring or --monitoring-only");
    assertThat(refusal(Map.of(), base("--monitoring-only", "--denied-alert-threshold", "0")))
        .isEqualTo("--denied-alert-threshold must be a whole number from 1 to 1000000, got '0'");
  }

  @Test
  void smokeTest_mustBeAnAllowlistedEmail_andNeedsADeploy() {
    assertThat(
            read(
                    Map.of(),
                    base("--allow", ALICE, "--smoke-test", ALICE.toUpperCase())
                        .toArray(String[]::new))
                .smokeServiceAccount)
        .isEqualTo(ALICE);
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--smoke-test", BOB)))
        .contains("is not on the allowlist: it would be refused");
    assertThat(refusal(Map.of(), base("--monitoring-only", "--smoke-test", BOB)))
        .contains("--smoke-test needs a deploy");
    assertThat(
            refusal(
                Map.of("INVOKER_GUARD_SMOKE_TEST_URL_OVERRIDE", "http://example.com/"),
                base("--allow", ALICE)))
        .contains("must be http://127.0.0.1:PORT (tests only)");
  }

  @Test
  void arguments_unknownOrWithoutValue_areRefused() {
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--public")))
        .isEqualTo("unknown argument '--public' (see --help)");
    assertThat(refusal(Map.of(), base("--allow", "--dry-run"))).isEqualTo("--allow needs a value");
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--gen1=true")))
        .isEqualTo("unknown argument '--gen1=true' (see --help)");
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--source=")))
        .isEqualTo("--source needs a value");
  }

  @Test
  void customAudience_httpsOnly_andOnlyOn2ndGen() {
    assertThat(refusal(Map.of(), base("--allow", ALICE, "--audience", "http://x.example")))
        .isEqualTo("--audience 'http://x.example' is not an https URL");
    assertThat(
            refusal(Map.of(), base("--allow", ALICE, "--gen1", "--audience", "https://x.example")))
        .contains("--audience needs 2nd gen");
  }
}
