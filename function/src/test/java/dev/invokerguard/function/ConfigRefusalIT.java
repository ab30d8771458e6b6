package dev.invokerguard.function;

import static com.google.common.truth.Truth.assertThat;

import dev.invokerguard.testing.ChildJvm;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A bad configuration stops the real invoker at start-up, with one clear line that names the
 * variable, before it ever listens.
 */
class ConfigRefusalIT {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";

  private static Map<String, String> goodLocalEnvironment() {
    Map<String, String> env = new HashMap<>();
    env.put("ALLOWED_INVOKERS", ALICE);
    env.put("EXPECTED_AUDIENCES", "http://127.0.0.1:1");
    env.put("JWKS_URL", "http://127.0.0.1:1/oauth2/v3/certs");
    return env;
  }

  @ParameterizedTest(name = "{0}={1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "ALLOWED_INVOKERS|<unset>|ALLOWED_INVOKERS: is required but not set",
        "ALLOWED_INVOKERS|bob@gmail.com|ALLOWED_INVOKERS: entry 'bob@gmail.com' is not a"
            + " service-account email or numeric unique ID",
        "ALLOWED_INVOKERS|" + ALICE + ",,|ALLOWED_INVOKERS: has an empty entry",
        "EXPECTED_AUDIENCES|<empty>|EXPECTED_AUDIENCES: is empty",
        "JWKS_URL|http://keys.example/certs|JWKS_URL: must be an https URL",
        "K_SERVICE|api|JWKS_URL: only Google's key set",
        "TOKEN_ISSUERS|https://evil.test;K_SERVICE=api|TOKEN_ISSUERS: only Google's issuers",
        "CLOCK_SKEW_SECONDS|sixty|CLOCK_SKEW_SECONDS: must be a whole number of seconds",
        "CLOCK_SKEW_SECONDS|600|CLOCK_SKEW_SECONDS: must be between 0 and 300",
        "TRUST_PLATFORM_VERIFIED_TOKENS|yes|TRUST_PLATFORM_VERIFIED_TOKENS: must be exactly",
        "TRUST_PLATFORM_VERIFIED_TOKENS|true|TRUST_PLATFORM_VERIFIED_TOKENS: 'true' is accepted"
            + " only on Google Cloud",
        "TRUST_PLATFORM_VERIFIED_TOKENS|true;K_SERVICE=api;FUNCTION_GENERATION=gen1"
            + "|TRUST_PLATFORM_VERIFIED_TOKENS: 'true' is refused on 1st gen",
        "FUNCTION_GENERATION|2|FUNCTION_GENERATION: must be exactly 'gen1' or 'gen2'",
        "KEY_FETCH_TIMEOUT_SECONDS|0|KEY_FETCH_TIMEOUT_SECONDS: must be between 1 and 60",
        "KEY_REFETCH_INTERVAL_SECONDS|-1|KEY_REFETCH_INTERVAL_SECONDS: must be a whole number",
      })
  void start_badConfiguration_exitsNonZeroNamingTheVariable(
      String variable, String value, String expectedLine) {
    Map<String, String> env = goodLocalEnvironment();
    // "VALUE;NAME=VALUE" sets a second variable; <unset> and <empty> stand for what CSV cannot say.
    String[] parts = value.split(";");
    apply(env, variable, parts[0]);
    Arrays.stream(parts)
        .skip(1)
        .forEach(
            extra -> {
              String[] kv = extra.split("=", 2);
              apply(env, kv[0], kv[1]);
            });
    if (!variable.equals("K_SERVICE") && env.containsKey("K_SERVICE")) {
      env.remove("JWKS_URL"); // on Google Cloud only the variable under test is wrong here
    }
    int port = ChildJvm.freePort();

    try (RunningFunction function = RunningFunction.launch(port, env)) {
      int exitCode = function.jvm.awaitExit(RunningFunction.START_TIMEOUT);

      assertThat(exitCode).isNotEqualTo(0);
      String stderr = function.jvm.stderr();
      assertThat(stderr).contains("invoker-guard: invalid configuration: " + expectedLine);
      // The one line stands alone: a person reading the log finds the variable and the fix.
      assertThat(
              stderr
                  .lines()
                  .filter(l -> l.startsWith("invoker-guard: invalid configuration: "))
                  .count())
          .isEqualTo(1);
      assertThat(function.jvm.stdout()).doesNotContain("\"decision\"");
      assertThat(stderr).doesNotContain("Serving function");
    }
  }

  private static void apply(Map<String, String> env, String name, String value) {
    switch (value) {
      case "<unset>" -> env.remove(name);
      case "<empty>" -> env.put(name, "");
      default -> env.put(name, value);
    }
  }
}
