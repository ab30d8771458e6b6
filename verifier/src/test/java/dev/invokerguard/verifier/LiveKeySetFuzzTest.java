package dev.invokerguard.verifier;

import com.code_intelligence.jazzer.api.BugDetectors;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.api.SilentCloseable;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.BiPredicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Jazzer fuzz tests of full verification as deployed: the real key cache ({@link JwksKeyCache})
 * fetching a {@link TestIssuer}'s key set over HTTP on loopback, at a fixed {@link MutableClock}.
 * The oracle is that of {@link FuzzFixture}: only a token byte-identical to one minted here as
 * valid may pass, and nothing but a rejection with a reason may happen otherwise.
 *
 * <p>The issuer's keys are generated afresh in every run, so a saved input replays the same
 * <em>edits</em> on tokens of the same shape, not the same bytes. The key endpoint is only ever
 * reached on 127.0.0.1: Jazzer's network sanitizer reports any other connection as a finding.
 */
class LiveKeySetFuzzTest {
  private static final String CLIENT = FuzzFixture.CLIENT;
  private static final String AUDIENCE = FuzzFixture.AUDIENCE;

  private static MutableClock clock;
  private static TestIssuer issuer;
  private static CallerVerifier verifier;
  private static final BiPredicate<String, Integer> LOOPBACK =
      (host, port) -> host.equals("127.0.0.1") || host.equals("localhost");
  private static Set<String> valid;
  private static List<String> tokens;
  private static String jwks;

  @BeforeAll
  static void setUp() {
    clock = new MutableClock(FuzzFixture.NOW);
    issuer = TestIssuer.builder().clock(clock).keyCount(2).start();
    String first = issuer.keyIds().get(0);
    String second = issuer.keyIds().get(1);
    String unpublished = issuer.addKey();
    issuer.unpublish(unpublished);
    valid =
        Set.of(
            issuer.mint(CLIENT, AUDIENCE),
            issuer.token().signWithKey(second).email(CLIENT).audience(AUDIENCE).build(),
            issuer.token().email(FuzzFixture.ID_CLIENT).withoutEmail().audience(AUDIENCE).build());
    tokens = new ArrayList<>(valid);
    tokens.add(issuer.mint(FuzzFixture.STRANGER, AUDIENCE));
    tokens.add(issuer.token().signWithKey(unpublished).email(CLIENT).audience(AUDIENCE).build());
    tokens.add(
        issuer
            .token()
            .signWithKey(unpublished)
            .keyId(first) // a valid signature, but from another key than the one kid names
            .email(CLIENT)
            .audience(AUDIENCE)
            .build());
    tokens.add(
        issuer
            .token()
            .email(CLIENT)
            .audience(AUDIENCE)
            .issuedAt(FuzzFixture.NOW.minus(Duration.ofHours(2)))
            .expiresAt(FuzzFixture.NOW.minus(Duration.ofHours(1)))
            .build());
    jwks = issuer.jwksJson();
    verifier = verifier();
  }

  @AfterAll
  static void tearDown() {
    if (verifier != null) {
      verifier.close();
    }
    if (issuer != null) {
      issuer.close();
    }
  }

  /**
   * Verifies like production: no token cache in the way of the signature check, and the shortest
   * refetch interval, so that the fetch path is fuzzed too.
   */
  private static CallerVerifier verifier() {
    return CallerVerifier.builder()
        .expectedAudiences(AUDIENCE, FuzzFixture.RUN_AUDIENCE)
        .allowlist(FuzzFixture.ALLOWLIST)
        .clock(clock)
        .jwksUri(issuer.jwksUri())
        .keyFetchTimeout(Duration.ofSeconds(2))
        .keyRefetchInterval(VerifierSettings.KEY_REFETCH_INTERVAL.min())
        .build();
  }

  /** A minted token changed by structure-aware edits, against the published key set. */
  @FuzzTest(maxDuration = "5m")
  void verify_mutatedTokenAgainstLiveKeySet_onlyUnchangedValidTokenAccepted(
      FuzzedDataProvider data) {
    String token =
        TokenMutator.mutate(tokens.get(data.consumeInt(0, tokens.size() - 1)), data, tokens);
    // Set here, not in setUp: Jazzer's agent is in place only once a fuzz test runs.
    try (SilentCloseable loopbackOnly = BugDetectors.allowNetworkConnections(LOOPBACK)) {
      judge(verifier, token);
    }
  }

  /**
   * The key endpoint serves a fuzzed edit of the real key set to a fresh verifier; then a valid
   * token and an edited one are verified. Whatever the key set says, only the unchanged valid token
   * may pass, and a broken key set is a rejection (503 or 401), never another exception.
   */
  @FuzzTest(maxDuration = "5m")
  void verify_fuzzedKeySet_neverAcceptsAnEditedToken(FuzzedDataProvider data) {
    String body =
        data.consumeBoolean() ? KeySetMutator.mutate(jwks, data) : data.consumeString(300);
    String validToken = tokens.get(data.consumeInt(0, valid.size() - 1));
    String edited = TokenMutator.mutate(validToken, data, tokens);
    issuer.jwks().respondWith(200, body);
    try (SilentCloseable loopbackOnly = BugDetectors.allowNetworkConnections(LOOPBACK);
        CallerVerifier fresh = verifier()) {
      judge(fresh, validToken);
      judge(fresh, edited);
    } finally {
      issuer.jwks().respondNormally();
    }
  }

  private static void judge(CallerVerifier verifier, String token) {
    FuzzFixture.Outcome outcome = FuzzFixture.run(() -> verifier.verifyToken(token));
    if (outcome.caller() != null && !valid.contains(token)) {
      throw new AssertionError("ACCEPTED A TOKEN THAT WAS NOT MINTED AS VALID: " + token);
    }
  }
}
