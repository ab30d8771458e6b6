package dev.invokerguard.verifier;

import java.time.Duration;

/**
 * The verifier's settings, each a {@link Setting} with its name, default and range, in one place:
 * {@link CallerVerifier.Builder} checks every value it is given against these, and the environment
 * reader of {@code verifier-functions} reads and checks each one from the variable {@link
 * Setting#environmentVariable()} names, so the builder and the environment accept the same values.
 */
public final class VerifierSettings {
  private VerifierSettings() {}

  /** The clock skew allowed on {@code exp}, {@code nbf} and {@code iat}: 0 to 5 minutes, 60 s. */
  public static final Setting<Duration> CLOCK_SKEW =
      new Setting<>("clockSkew", Duration.ofSeconds(60), Duration.ZERO, Duration.ofMinutes(5));

  /** The deadline of one whole key fetch: more than 0, at most 60 s, 5 s by default. */
  public static final Setting<Duration> KEY_FETCH_TIMEOUT =
      new Setting<>(
          "keyFetchTimeout", Duration.ofSeconds(5), Duration.ofMillis(1), Duration.ofSeconds(60));

  /**
   * At most one key fetch starts per interval: 1 s to 1 h, 10 s by default. Not 0: that would let
   * tokens with made-up {@code kid}s turn every request into a fetch.
   */
  public static final Setting<Duration> KEY_REFETCH_INTERVAL =
      new Setting<>(
          "keyRefetchInterval", Duration.ofSeconds(10), Duration.ofSeconds(1), Duration.ofHours(1));

  /** How long past its expiry the last good key set is used while fetches fail: 0 to 7 days. */
  public static final Setting<Duration> MAX_KEY_STALENESS =
      new Setting<>("maxKeyStaleness", Duration.ofHours(24), Duration.ZERO, Duration.ofDays(7));

  /** The size cap of a key set response: 1 KiB to 16 MiB, 64 KiB by default. */
  public static final Setting<Integer> MAX_KEY_SET_BYTES =
      new Setting<>("maxKeySetBytes", 64 * 1024, 1024, 16 * 1024 * 1024);

  /**
   * The bound of the verified-token cache (see {@link
   * CallerVerifier.Builder#verifiedTokenCache(int)}): 0 (off) to 1 000 000, 10 000 by default.
   */
  public static final Setting<Integer> VERIFIED_TOKEN_CACHE_ENTRIES =
      new Setting<>("verifiedTokenCache", 10_000, 0, 1_000_000);
}
