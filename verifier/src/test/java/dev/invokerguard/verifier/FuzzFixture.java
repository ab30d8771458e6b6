package dev.invokerguard.verifier;

import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.testing.TokenBuilder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * What the fuzz tests share: two RSA keys generated deterministically (from a fixed seed, so that
 * the same tokens come out of every run and a saved finding replays byte for byte), a fixed clock,
 * the tokens minted with them, and the oracle that judges an outcome.
 *
 * <p>The oracle is the point of the fuzz tests: the only allowed outcomes are a {@link
 * VerifiedCaller} for a token that is byte-identical to one minted here as valid, or a {@link
 * CallerRejectedException} with a reason. Anything else (another exception, an acceptance of
 * anything else, an accepted caller that contradicts the policy) is a finding.
 */
final class FuzzFixture implements AutoCloseable {
  static final Instant NOW = Instant.parse("2026-01-15T10:00:00Z");
  static final String AUDIENCE =
      "https://europe-west1-host-project.cloudfunctions.net/internal-api";
  static final String RUN_AUDIENCE = "https://internal-api-abc123-ew.a.run.app";
  static final String CLIENT = "api-client@client-project.iam.gserviceaccount.com";

  /** Allowlisted by its numeric unique ID only. */
  static final String ID_CLIENT = "by-id@client-project.iam.gserviceaccount.com";

  static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";
  static final String KID = "fuzz-key-1";
  static final String OTHER_KID = "fuzz-key-2";
  static final Duration SKEW = VerifierSettings.CLOCK_SKEW.defaultValue();
  static final ServiceAccountAllowlist ALLOWLIST =
      ServiceAccountAllowlist.of(List.of(CLIENT, TestIssuer.uniqueIdOf(ID_CLIENT)));

  final MutableClock clock = new MutableClock(NOW);
  final TestIssuer issuer = TestIssuer.builder().clock(clock).keyCount(1).start();
  final KeyPair key = deterministicRsaKey(1);
  final KeyPair otherKey = deterministicRsaKey(2);

  /** Tokens every verifier built here accepts, by name; the only strings that may pass. */
  final Map<String, String> valid = new LinkedHashMap<>();

  /** Well-formed tokens that must be rejected; good starting points for mutation. */
  final Map<String, String> invalid = new LinkedHashMap<>();

  FuzzFixture() {
    valid.put("V0", signed(KID).email(CLIENT).audience(AUDIENCE).build());
    valid.put(
        "V1",
        signed(KID).email(CLIENT).audiences("https://elsewhere.example", RUN_AUDIENCE).build());
    valid.put("V2", signed(KID).email(ID_CLIENT).withoutEmail().audience(AUDIENCE).build());
    valid.put(
        "V3",
        signed(OTHER_KID)
            .email(CLIENT)
            .issuer("accounts.google.com")
            .audience(RUN_AUDIENCE)
            .claim("email_verified", "true")
            .build());
    invalid.put("STRANGER", signed(KID).email(STRANGER).audience(AUDIENCE).build());
    invalid.put(
        "EXPIRED",
        signed(KID)
            .email(CLIENT)
            .audience(AUDIENCE)
            .issuedAt(NOW.minus(Duration.ofHours(3)))
            .expiresAt(NOW.minus(Duration.ofHours(2)))
            .build());
    invalid.put("WRONG_AUDIENCE", signed(KID).email(CLIENT).audience(AUDIENCE + "/").build());
    invalid.put(
        "UNVERIFIED",
        signed(KID).email(CLIENT).audience(AUDIENCE).claim("email_verified", false).build());
    invalid.put(
        "OTHER_KEY_UNDER_KID",
        issuer
            .token()
            .keyId(KID)
            .signWith(otherKey.getPrivate())
            .email(CLIENT)
            .audience(AUDIENCE)
            .build());
    invalid.put(
        "UNKNOWN_KID",
        issuer
            .token()
            .keyId("no-such-key")
            .signWith(key.getPrivate())
            .email(CLIENT)
            .audience(AUDIENCE)
            .build());
    String v0 = valid.get("V0");
    invalid.put(
        "SIGNATURE_REMOVED",
        v0.substring(0, v0.lastIndexOf('.') + 1) + CompactJws.SIGNATURE_REMOVED_BY_GOOGLE);
  }

  private TokenBuilder signed(String kid) {
    KeyPair pair = kid.equals(KID) ? key : otherKey;
    return issuer.token().keyId(kid).signWith(pair.getPrivate());
  }

  /** All minted tokens, valid first, in a fixed order (fuzz inputs pick them by index). */
  List<String> allTokens() {
    List<String> all = new ArrayList<>(valid.values());
    all.addAll(invalid.values());
    return all;
  }

  /** A verifier over the two fixed keys, as deployed except for the key source. */
  CallerVerifier verifier(boolean trustPlatform) {
    return verifier(trustPlatform, true);
  }

  /** As {@link #verifier(boolean)}, with or without the verified-token cache. */
  CallerVerifier verifier(boolean trustPlatform, boolean tokenCache) {
    CallerVerifier.Builder builder =
        CallerVerifier.builder()
            .expectedAudiences(AUDIENCE, RUN_AUDIENCE)
            .allowlist(ALLOWLIST)
            .clock(clock)
            .clockSkew(SKEW)
            .keySource(
                new FixedKeySource(
                    Map.of(
                        KID, (RSAPublicKey) key.getPublic(),
                        OTHER_KID, (RSAPublicKey) otherKey.getPublic())));
    if (trustPlatform) {
      builder.trustPlatformVerifiedTokens();
    }
    if (!tokenCache) {
      builder.disableVerifiedTokenCache();
    }
    return builder.build();
  }

  /**
   * Verifies and judges the outcome.
   *
   * @param judgedToken the token the verifier must have judged, or null when the input is such that
   *     no acceptance is possible (for example a header map with no usable credentials)
   * @return the outcome, for differential checks
   * @throws AssertionError on any outcome the oracle does not allow
   */
  Outcome judge(Verification verification, String judgedToken) {
    Outcome outcome = run(verification);
    if (outcome.caller() != null) {
      checkAccepted(outcome.caller(), judgedToken);
    }
    return outcome;
  }

  /** Runs a verification; a rejection with a reason or a caller are the only normal ends. */
  static Outcome run(Verification verification) {
    long started = System.nanoTime();
    Outcome outcome;
    try {
      outcome = new Outcome(verification.run(), null);
    } catch (CallerRejectedException e) {
      if (e.reason() == null) {
        throw new AssertionError("a rejection without a reason", e);
      }
      String message = e.getMessage();
      if (message == null || message.isEmpty() || message.length() > 400) {
        throw new AssertionError("a rejection message that is empty or unbounded: " + e.reason());
      }
      if (!loggable(message)) {
        throw new AssertionError(
            "a line-breaking or hidden character in a rejection message: " + e.reason());
      }
      outcome = new Outcome(null, e.reason());
    }
    // A generous bound: one verification is tens of microseconds; seconds mean a hang.
    Duration took = Duration.ofNanos(System.nanoTime() - started);
    if (took.compareTo(Duration.ofSeconds(5)) > 0) {
      throw new AssertionError("one verification took " + took);
    }
    return outcome;
  }

  /**
   * Whether a message is safe to write into a log line: no control characters (C0 or C1), no format
   * characters (bidirectional overrides), no line or paragraph separators, no lone surrogates.
   */
  static boolean loggable(String message) {
    return message
        .codePoints()
        .noneMatch(
            c ->
                switch (Character.getType(c)) {
                  case Character.CONTROL,
                      Character.FORMAT,
                      Character.SURROGATE,
                      Character.LINE_SEPARATOR,
                      Character.PARAGRAPH_SEPARATOR ->
                      true;
                  default -> false;
                });
  }

  private void checkAccepted(VerifiedCaller caller, String judgedToken) {
    boolean removed =
        judgedToken != null && judgedToken.endsWith("." + CompactJws.SIGNATURE_REMOVED_BY_GOOGLE);
    if (caller.signatureCheck() == VerifiedCaller.SignatureCheck.TRUSTED_PLATFORM) {
      if (!removed) {
        throw new AssertionError("TRUSTED_PLATFORM for a token whose signature was not removed");
      }
    } else if (judgedToken == null || !valid.containsValue(judgedToken)) {
      throw new AssertionError(
          "ACCEPTED A TOKEN THAT WAS NOT MINTED AS VALID: "
              + (judgedToken == null ? "(no judged token)" : judgedToken));
    }
    // Whatever path led here, the caller must fit the policy.
    Set<String> audiences = Set.of(AUDIENCE, RUN_AUDIENCE);
    if (!audiences.contains(caller.audience())
        || !CallerVerifier.GOOGLE_ISSUERS.contains(caller.issuer())
        || !NOW.isBefore(caller.expiresAt().plus(SKEW))
        || caller.issuedAt().isAfter(NOW.plus(SKEW))
        || !(ALLOWLIST.uniqueIds().contains(caller.subject())
            || caller
                .email()
                .map(e -> ALLOWLIST.emails().contains(e.toLowerCase(Locale.ROOT)))
                .orElse(false))) {
      throw new AssertionError("an accepted caller outside the policy: " + caller);
    }
  }

  @Override
  public void close() {
    issuer.close();
  }

  /** One call of the verifier. */
  interface Verification {
    VerifiedCaller run() throws CallerRejectedException;
  }

  /** Either a caller or a reason. */
  record Outcome(VerifiedCaller caller, Reason reason) {
    /** Same decision: both accepted the same principal, or both rejected for the same reason. */
    boolean sameDecision(Outcome other) {
      if (caller != null) {
        return other.caller != null
            && caller.principal().equals(other.caller.principal())
            && caller.signatureCheck() == other.caller.signatureCheck();
      }
      return reason == other.reason;
    }

    @Override
    public String toString() {
      return caller != null ? "accepted " + caller.principal() : "rejected " + reason;
    }
  }

  /**
   * An RSA-2048 key pair generated from a fixed seed: the JDK's generator draws its primes from the
   * given random source, and a SHA1PRNG seeded before first use is a deterministic stream.
   */
  static KeyPair deterministicRsaKey(int seed) {
    try {
      SecureRandom random = SecureRandom.getInstance("SHA1PRNG");
      random.setSeed(("invoker-guard fuzz key " + seed).getBytes(StandardCharsets.UTF_8));
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048, random);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("RSA and SHA1PRNG are required of every JDK", e);
    }
  }

  /** A key source over a fixed key set: no network, so the fuzzer spends its time on parsing. */
  static final class FixedKeySource implements KeySource {
    private final Map<String, RSAPublicKey> keys;

    FixedKeySource(Map<String, RSAPublicKey> keys) {
      this.keys = Map.copyOf(keys);
    }

    @Override
    public RSAPublicKey key(String kid, Instant now) throws CallerRejectedException {
      RSAPublicKey key = keys.get(kid);
      if (key == null) {
        throw new CallerRejectedException(Reason.UNKNOWN_KEY_ID, "no key with that kid");
      }
      return key;
    }

    @Override
    public CompletableFuture<Void> prefetch() {
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public void close() {}
  }
}
