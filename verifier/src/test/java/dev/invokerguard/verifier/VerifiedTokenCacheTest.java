package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The verified-token cache: a hit skips only decoding and the RSA check; the key, the claims and
 * the allowlist are judged again on every request, so a hit never changes a decision.
 */
class VerifiedTokenCacheTest {
  static final String AUDIENCE =
      "https://europe-west1-host-project.cloudfunctions.net/internal-api";
  static final String CLIENT = "api-client@client-project.iam.gserviceaccount.com";
  static final String OTHER = "other-client@client-project.iam.gserviceaccount.com";
  static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");

  private MutableClock clock;
  private TestIssuer issuer;
  private IssuerKeys keys;
  private final List<CallerVerifier> verifiers = new ArrayList<>();

  @BeforeEach
  void setUp() {
    clock = new MutableClock(NOW);
    issuer = TestIssuer.builder().clock(clock).start();
    keys = new IssuerKeys(issuer);
  }

  @AfterEach
  void tearDown() {
    verifiers.forEach(CallerVerifier::close);
    issuer.close();
  }

  /** The issuer's published keys, read from it directly, counting lookups. */
  static final class IssuerKeys implements KeySource {
    private final TestIssuer issuer;
    final AtomicInteger lookups = new AtomicInteger();

    IssuerKeys(TestIssuer issuer) {
      this.issuer = issuer;
    }

    @Override
    public RSAPublicKey key(String kid, Instant now) throws CallerRejectedException {
      lookups.incrementAndGet();
      if (!issuer.keyIds().contains(kid)) {
        throw new CallerRejectedException(Reason.UNKNOWN_KEY_ID, "no key " + kid);
      }
      return issuer.publicKey(kid);
    }

    @Override
    public CompletableFuture<Void> prefetch() {
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public void close() {}
  }

  private CallerVerifier.Builder builder(String... allowed) {
    return CallerVerifier.builder()
        .expectedAudiences(AUDIENCE)
        .allowlist(ServiceAccountAllowlist.of(List.of(allowed)))
        .clock(clock)
        .keySource(keys);
  }

  private CallerVerifier track(CallerVerifier verifier) {
    verifiers.add(verifier);
    return verifier;
  }

  private static Reason rejection(CallerVerifier verifier, String token) {
    return assertThrows(CallerRejectedException.class, () -> verifier.verifyToken(token)).reason();
  }

  /** A verifier with its own cache of {@code entries}, reached by {@code tokenCache()}. */
  private CallerVerifier verifierCaching(int entries, String... allowed) {
    return track(builder(allowed).verifiedTokenCache(entries).build());
  }

  @Test
  void verify_sameTokenTwice_hitReturnsSameCaller() throws Exception {
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String token = issuer.mint(CLIENT, AUDIENCE);

    VerifiedCaller first = verifier.verifyToken(token);
    assertThat(cache.get(token, clock.instant())).isNotNull();
    VerifiedCaller second = verifier.verifyToken(new String(token.toCharArray()));

    assertThat(second.subject()).isEqualTo(first.subject());
    assertThat(second.email()).isEqualTo(first.email());
    assertThat(second.issuer()).isEqualTo(first.issuer());
    assertThat(second.audience()).isEqualTo(first.audience());
    assertThat(second.issuedAt()).isEqualTo(first.issuedAt());
    assertThat(second.expiresAt()).isEqualTo(first.expiresAt());
    assertThat(second.signatureCheck()).isEqualTo(VerifiedCaller.SignatureCheck.VERIFIED);
    // Not rebuilt on a hit: the caller is immutable and depends on nothing a hit re-checks.
    assertThat(second).isSameInstanceAs(first);
    assertThat(cache.size()).isEqualTo(1);
  }

  @Test
  void verify_hitInVerifiersWithOtherAudiences_callerNamesEachVerifiersAudience() throws Exception {
    // A hit hands out the caller its verification built, whose audience is the verifying
    // verifier's choice among the token's aud values; each verifier has its own cache, so each
    // hit names that verifier's own audience.
    String other = "https://other.example/api";
    CallerVerifier first = verifierCaching(100, CLIENT);
    CallerVerifier second =
        track(
            CallerVerifier.builder()
                .expectedAudiences(other)
                .allowlist(ServiceAccountAllowlist.of(List.of(CLIENT)))
                .clock(clock)
                .keySource(keys)
                .verifiedTokenCache(100)
                .build());
    String token = issuer.token().email(CLIENT).audiences(AUDIENCE, other).build();

    assertThat(first.verifyToken(token).audience()).isEqualTo(AUDIENCE);
    assertThat(second.verifyToken(token).audience()).isEqualTo(other);
    VerifiedCaller hit = second.verifyToken(token);

    assertThat(hit.audience()).isEqualTo(other);
    assertThat(second.tokenCache().size()).isEqualTo(1); // it was a hit: no second entry
    assertThat(first.verifyToken(token).audience()).isEqualTo(AUDIENCE);
    assertThat(first.tokenCache().size()).isEqualTo(1);
  }

  @Test
  void verify_cachedEntry_servedWithoutSignatureCheck() throws Exception {
    // Proves the hit path is taken: an entry planted for a string whose signature is garbage
    // passes, which the full pipeline would never allow. Real entries come only from verify.
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String good = issuer.mint(CLIENT, AUDIENCE);
    VerifiedTokenCache.Entry entry = verifiedEntry(verifier, cache, good);
    String planted = good.substring(0, good.lastIndexOf('.') + 1) + "AAAA";
    assertThat(rejection(verifier, planted)).isEqualTo(Reason.BAD_SIGNATURE);

    cache.put(planted, entry.kid(), entry.key(), entry.claims(), entry.caller(), 60);

    assertThat(verifier.verifyToken(planted).principal()).isEqualTo(CLIENT);
  }

  @Test
  void verify_headerWithACachedTokenAndMore_rejectedAsMalformedHeaderAsOnAMiss() throws Exception {
    // A hit skips the walk for whitespace and commas; only an exact cached token may skip it.
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String token = issuer.mint(CLIENT, AUDIENCE);
    assertThat(verifier.verify(Map.of("Authorization", List.of("Bearer " + token))).principal())
        .isEqualTo(CLIENT);

    for (String value :
        List.of(
            "Bearer " + token + " " + token,
            "Bearer " + token + "," + token,
            "Bearer " + token + "\t x",
            "Bearer " + token.substring(0, 20) + " " + token.substring(20))) {
      CallerRejectedException e =
          assertThrows(
              CallerRejectedException.class,
              () -> verifier.verify(Map.of("Authorization", List.of(value))));
      assertThat(e.reason()).isEqualTo(Reason.MALFORMED_HEADER);
    }
    // Surrounding whitespace is not part of the token: still the cached one.
    assertThat(
            verifier
                .verify(Map.of("Authorization", List.of("  Bearer   " + token + " \t")))
                .principal())
        .isEqualTo(CLIENT);
    assertThat(cache.size()).isEqualTo(1);
  }

  @Test
  void get_tokensSharingTheHashedTail_keptApartByTheWholeString() throws Exception {
    // The map hashes only a token's tail: tokens alike there share a bucket and nothing else.
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String good = issuer.mint(CLIENT, AUDIENCE);
    VerifiedTokenCache.Entry entry = verifiedEntry(verifier, cache, good);
    String tail = good.substring(good.length() - VerifiedTokenCache.HASHED_TAIL_CHARS - 5);
    String first = "aaaa.bbbb." + tail;
    String second = "aaaa.bbbc." + tail;
    assertThat(new VerifiedTokenCache.TokenKey(first).hashCode())
        .isEqualTo(new VerifiedTokenCache.TokenKey(second).hashCode());

    cache.put(first, entry.kid(), entry.key(), entry.claims(), entry.caller(), 60);

    assertThat(cache.get(first, clock.instant())).isNotNull();
    assertThat(cache.get(second, clock.instant())).isNull();
    assertThat(cache.get(first.substring(1), clock.instant())).isNull();
    cache.put(second, entry.kid(), entry.key(), entry.claims(), entry.caller(), 60);
    assertThat(cache.get(second, clock.instant()).token()).isEqualTo(second);
    assertThat(cache.get(first, clock.instant()).token()).isEqualTo(first);
    assertThat(cache.size()).isEqualTo(3);
  }

  @Test
  void build_defaultCachesTenThousandAndDisableTurnsItOff() throws Exception {
    String token = issuer.mint(CLIENT, AUDIENCE);
    CallerVerifier byDefault = track(builder(CLIENT).build());
    CallerVerifier disabled = track(builder(CLIENT).disableVerifiedTokenCache().build());
    CallerVerifier zero = track(builder(CLIENT).verifiedTokenCache(0).build());

    for (CallerVerifier verifier : List.of(byDefault, disabled, zero)) {
      assertThat(verifier.verifyToken(token).principal()).isEqualTo(CLIENT);
      assertThat(verifier.verifyToken(token).principal()).isEqualTo(CLIENT);
    }

    assertThat(byDefault.tokenCache().maxEntries()).isEqualTo(10_000);
    assertThat(byDefault.tokenCache().get(token, clock.instant())).isNotNull();
    assertThat(disabled.tokenCache().maxEntries()).isEqualTo(0);
    assertThat(disabled.tokenCache().get(token, clock.instant())).isNull();
    assertThat(zero.tokenCache().get(token, clock.instant())).isNull();
    // A hit still looks the key up: two requests, two lookups, per verifier.
    assertThat(keys.lookups.get()).isEqualTo(6);
  }

  @Test
  void builder_verifiedTokenCacheOutOfRange_refused() {
    assertThrows(IllegalArgumentException.class, () -> builder(CLIENT).verifiedTokenCache(-1));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            builder(CLIENT)
                .verifiedTokenCache(VerifierSettings.VERIFIED_TOKEN_CACHE_ENTRIES.max() + 1));
  }

  @Test
  void verify_cachedTokenPastExpiry_rejectedAsExpired() throws Exception {
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String token = issuer.mint(CLIENT, AUDIENCE); // exp = NOW + 1 h; skew 60 s
    verifier.verifyToken(token);

    clock.set(NOW.plusSeconds(3600 + 59));
    assertThat(verifier.verifyToken(token).principal()).isEqualTo(CLIENT); // inside the skew
    clock.set(NOW.plusSeconds(3600 + 60));

    assertThat(rejection(verifier, token)).isEqualTo(Reason.EXPIRED);
    assertThat(cache.get(token, clock.instant())).isNull();
  }

  @Test
  void verify_cachedEntryPastExpiry_rejectedAsExpiredEvenIfReturnedByCache() throws Exception {
    // A hit re-checks the time itself, not only through the cache's own bound: with a planted
    // entry whose bound is far in the future, the claims still say EXPIRED.
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String token = issuer.mint(CLIENT, AUDIENCE);
    verifier.verifyToken(token);
    VerifiedTokenCache.Entry entry = cache.get(token, clock.instant());
    CallerVerifier sharingOther = verifierCaching(100, CLIENT);
    VerifiedTokenCache other = sharingOther.tokenCache();
    other.put(token, entry.kid(), entry.key(), entry.claims(), entry.caller(), 86_400);

    clock.set(NOW.plusSeconds(3600 + 60));

    assertThat(other.get(token, clock.instant())).isNotNull();
    assertThat(rejection(sharingOther, token)).isEqualTo(Reason.EXPIRED);
  }

  @Test
  void verify_cachedTokenClockBeforeIssue_rejectedAsIssuedInFuture() throws Exception {
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String token = issuer.mint(CLIENT, AUDIENCE);
    verifier.verifyToken(token);

    clock.set(NOW.minusSeconds(61)); // the clock stepped back: the miss path would say the same

    assertThat(rejection(verifier, token)).isEqualTo(Reason.ISSUED_IN_FUTURE);
  }

  @Test
  void verify_cacheHitInVerifierWhoseAllowlistRejects_rejectedAsNotAllowed() throws Exception {
    // The entry a verification for CLIENT made, planted in a verifier that allows only OTHER:
    // a hit is judged by the allowlist of the verifier it is in.
    String token = issuer.mint(CLIENT, AUDIENCE);
    CallerVerifier allowsClient = verifierCaching(100, CLIENT);
    VerifiedTokenCache.Entry entry = verifiedEntry(allowsClient, allowsClient.tokenCache(), token);
    CallerVerifier allowsOnlyOther = verifierCaching(100, OTHER);
    VerifiedTokenCache cache = allowsOnlyOther.tokenCache();
    cache.put(token, entry.kid(), entry.key(), entry.claims(), entry.caller(), 60);

    assertThat(cache.get(token, clock.instant())).isNotNull(); // so this is a hit
    assertThat(rejection(allowsOnlyOther, token)).isEqualTo(Reason.CALLER_NOT_ALLOWED);
    assertThat(cache.get(token, clock.instant())).isNotNull();
  }

  @Test
  void verify_cacheHitInVerifierWithOtherAudience_rejectedAsWrongAudience() throws Exception {
    // As above for the audience: a planted hit is judged by its verifier's audiences.
    String token = issuer.mint(CLIENT, AUDIENCE);
    CallerVerifier first = verifierCaching(100, CLIENT);
    VerifiedTokenCache.Entry entry = verifiedEntry(first, first.tokenCache(), token);
    CallerVerifier otherAudience =
        track(
            CallerVerifier.builder()
                .expectedAudiences("https://other.example")
                .allowlist(ServiceAccountAllowlist.parse(CLIENT))
                .clock(clock)
                .keySource(keys)
                .verifiedTokenCache(100)
                .build());
    otherAudience
        .tokenCache()
        .put(token, entry.kid(), entry.key(), entry.claims(), entry.caller(), 60);

    assertThat(otherAudience.tokenCache().get(token, clock.instant())).isNotNull(); // a hit
    assertThat(rejection(otherAudience, token)).isEqualTo(Reason.WRONG_AUDIENCE);
  }

  @Test
  void verify_cachedTokenWhoseKeyWasUnpublished_rejectedAsUnknownKey() throws Exception {
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String token = issuer.mint(CLIENT, AUDIENCE);
    verifier.verifyToken(token);
    String kid = issuer.activeKeyId();
    issuer.activate(issuer.keyIds().get(1));
    issuer.unpublish(kid);

    assertThat(rejection(verifier, token)).isEqualTo(Reason.UNKNOWN_KEY_ID);
  }

  @Test
  void verify_rejectedToken_notCached() throws Exception {
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String stranger = issuer.mint(OTHER, AUDIENCE);
    String wrongAudience = issuer.mint(CLIENT, "https://elsewhere.example");
    String good = issuer.mint(CLIENT, AUDIENCE);
    String badSignature = good.substring(0, good.lastIndexOf('.') + 1) + "AAAA";

    assertThat(rejection(verifier, stranger)).isEqualTo(Reason.CALLER_NOT_ALLOWED);
    assertThat(rejection(verifier, wrongAudience)).isEqualTo(Reason.WRONG_AUDIENCE);
    assertThat(rejection(verifier, badSignature)).isEqualTo(Reason.BAD_SIGNATURE);

    assertThat(cache.size()).isEqualTo(0);
  }

  @Test
  void verify_cachedTokenWithOneCharacterChanged_missesAndIsRejected() throws Exception {
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String token = issuer.mint(CLIENT, AUDIENCE);
    verifier.verifyToken(token);
    int firstDot = token.indexOf('.');
    int secondDot = token.indexOf('.', firstDot + 1);

    for (int at : new int[] {firstDot + 10, (firstDot + secondDot) / 2, secondDot + 20}) {
      char[] chars = token.toCharArray();
      chars[at] = chars[at] == 'A' ? 'B' : 'A';
      String mutated = new String(chars);

      assertThat(cache.get(mutated, clock.instant())).isNull();
      assertThat(rejection(verifier, mutated))
          .isAnyOf(Reason.BAD_SIGNATURE, Reason.MALFORMED_TOKEN);
    }
    assertThat(cache.size()).isEqualTo(1);
  }

  @Test
  void put_manyDistinctTokens_boundRespectedAndRecentTokensKept() throws Exception {
    CallerVerifier verifier = verifierCaching(16, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      String token =
          issuer.token().email(CLIENT).audience(AUDIENCE).claim("n", i).build(); // all distinct
      tokens.add(token);
      verifier.verifyToken(token);
      assertThat(cache.size()).isAtMost(16);
    }

    assertThat(cache.size()).isEqualTo(16);
    for (String recent : tokens.subList(84, 100)) {
      assertThat(cache.get(recent, clock.instant())).isNotNull();
    }
    assertThat(cache.get(tokens.get(0), clock.instant())).isNull();
    // An evicted token still verifies, in full, and comes back.
    assertThat(verifier.verifyToken(tokens.get(0)).principal()).isEqualTo(CLIENT);
    assertThat(cache.get(tokens.get(0), clock.instant())).isNotNull();
    assertThat(cache.size()).isEqualTo(16);
  }

  @Test
  void put_tokenOverCachedSizeCap_notCachedButVerified() throws Exception {
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String big =
        issuer.token().email(CLIENT).audience(AUDIENCE).claim("pad", "x".repeat(4000)).build();
    assertThat(big.length()).isGreaterThan(VerifiedTokenCache.MAX_CACHED_TOKEN_CHARS);

    assertThat(verifier.verifyToken(big).principal()).isEqualTo(CLIENT);
    assertThat(cache.size()).isEqualTo(0);
  }

  @Test
  void verify_concurrentHitsAndMisses_allAnsweredCorrectlyWithinBound() throws Exception {
    CallerVerifier verifier = verifierCaching(8, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      tokens.add(issuer.token().email(CLIENT).audience(AUDIENCE).claim("n", i).build());
    }
    String stranger = issuer.mint(OTHER, AUDIENCE);
    int threads = 8;
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int offset = t;
        Callable<Integer> work =
            () -> {
              start.await();
              int accepted = 0;
              for (int i = 0; i < 300; i++) {
                String token = tokens.get((i + offset) % tokens.size());
                // A fresh copy: equal but not identical, as a new request's header would be.
                if (verifier
                    .verifyToken(new String(token.toCharArray()))
                    .principal()
                    .equals(CLIENT)) {
                  accepted++;
                }
                if (i % 50 == 0) {
                  assertThat(rejection(verifier, stranger)).isEqualTo(Reason.CALLER_NOT_ALLOWED);
                }
              }
              return accepted;
            };
        results.add(pool.submit(work));
      }
      start.countDown();
      for (Future<Integer> result : results) {
        assertThat(result.get(60, TimeUnit.SECONDS)).isEqualTo(300);
      }
    } finally {
      pool.shutdownNow();
    }
    // At most the bound, plus puts that were in flight together (one per thread).
    assertThat(cache.size()).isAtMost(8 + threads);
    assertThat(cache.size()).isAtLeast(1);
  }

  @Test
  void verify_hitAfterClockAdvance_stillUsesCurrentTime() throws Exception {
    CallerVerifier verifier = verifierCaching(100, CLIENT);
    VerifiedTokenCache cache = verifier.tokenCache();
    String shortLived =
        issuer.token().email(CLIENT).audience(AUDIENCE).expiresAt(NOW.plusSeconds(120)).build();
    verifier.verifyToken(shortLived);

    clock.advance(Duration.ofSeconds(179));
    assertThat(verifier.verifyToken(shortLived).principal()).isEqualTo(CLIENT);
    clock.advance(Duration.ofSeconds(1));

    assertThat(rejection(verifier, shortLived)).isEqualTo(Reason.EXPIRED);
  }

  /** The entry a real verification of {@code token} put in {@code cache}. */
  private VerifiedTokenCache.Entry verifiedEntry(
      CallerVerifier verifier, VerifiedTokenCache cache, String token) throws Exception {
    verifier.verifyToken(token);
    VerifiedTokenCache.Entry entry = cache.get(token, clock.instant());
    assertThat(entry).isNotNull();
    return entry;
  }
}
