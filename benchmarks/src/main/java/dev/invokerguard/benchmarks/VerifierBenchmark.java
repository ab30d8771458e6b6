package dev.invokerguard.benchmarks;

import com.google.api.client.googleapis.auth.oauth2.GoogleIdToken;
import com.google.api.client.googleapis.auth.oauth2.GoogleIdTokenVerifier;
import com.google.api.client.googleapis.auth.oauth2.GooglePublicKeysManager;
import com.google.api.client.http.javanet.NetHttpTransport;
import com.google.api.client.json.gson.GsonFactory;
import com.google.api.client.json.webtoken.JsonWebSignature;
import com.google.auth.oauth2.TokenVerifier;
import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.verifier.CallerRejectedException;
import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import dev.invokerguard.verifier.VerifiedCaller;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Verifying one Google-shaped ID token, side by side, in one run: the raw RSA check (the floor),
 * this project's {@link CallerVerifier} on a miss and on a hit of its token cache,
 * google-api-client's {@code GoogleIdTokenVerifier} and google-auth-library's {@code
 * TokenVerifier}.
 *
 * <p>Same tokens for all ({@link TokenPool}: distinct tokens signed by three RSA-2048 keys in
 * turn), same key set, served by one {@link TestIssuer} on loopback (JWKS for ours and google-auth,
 * PEM certificates of the same keys for google-api-client, see {@link PemCertificateEndpoint}),
 * same system clock. Keys are loaded in {@link #setUp()}, so no benchmark fetches: what is measured
 * is the per-request cost. Each verifier is checked once in {@code setUp} to accept a good token
 * and reject a tampered one, so none is measured doing less than verifying.
 *
 * <p>Throughput, one thread: the machine has two cores shared with other work, so only ratios
 * within one run mean anything.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
@State(Scope.Benchmark)
public class VerifierBenchmark {
  private static final List<String> GOOGLE_ISSUERS = CallerVerifier.GOOGLE_ISSUERS;

  /** How many distinct tokens to cycle through (at most {@link TokenPool#MAX_SIZE}). */
  @Param("3000")
  public int poolSize;

  private TestIssuer issuer;
  private PemCertificateEndpoint pemCertificates;
  private TokenPool pool;
  private CallerVerifier uncached;
  private CallerVerifier cachedButMissing;
  private CallerVerifier cached;
  private byte[] hitTokenBytes;
  private byte[] hitHeaderBytes;
  private GoogleIdTokenVerifier googleApiClient;
  private TokenVerifier googleAuth;

  /** Each thread's place in the pool and its own reusable {@link Signature} for the floor. */
  @State(Scope.Thread)
  public static class Cursor {
    private int next;
    private Signature rs256;

    /** Creates this thread's {@code SHA256withRSA} instance. */
    @Setup(Level.Trial)
    public void setUp() throws GeneralSecurityException {
      rs256 = Signature.getInstance("SHA256withRSA");
    }

    int next(int size) {
      int i = next;
      next = i + 1 == size ? 0 : i + 1;
      return i;
    }
  }

  /** Starts the issuer, mints the pool, builds every verifier, loads keys, checks each verifies. */
  @Setup(Level.Trial)
  public void setUp() throws Exception {
    issuer = TestIssuer.builder().keyCount(3).start();
    pemCertificates = PemCertificateEndpoint.start(issuer);
    pool = new TokenPool(issuer, poolSize);

    uncached = ours().disableVerifiedTokenCache().build();
    // A cache smaller than the pool, walked in order: first in, first out never hits.
    cachedButMissing = ours().verifiedTokenCache(Math.max(1, poolSize / 4)).build();
    cached = ours().build();
    for (CallerVerifier verifier : List.of(uncached, cachedButMissing, cached)) {
      verifier.prefetchKeys().get(10, TimeUnit.SECONDS);
    }
    String hitToken = pool.token(0);
    hitTokenBytes = hitToken.getBytes(StandardCharsets.ISO_8859_1);
    hitHeaderBytes = ("Bearer " + hitToken).getBytes(StandardCharsets.ISO_8859_1);
    cached.verifyToken(hitToken); // now cached

    GooglePublicKeysManager keys =
        new GooglePublicKeysManager.Builder(
                new NetHttpTransport(), GsonFactory.getDefaultInstance())
            .setPublicCertsEncodedUrl(pemCertificates.uri().toString())
            .build();
    googleApiClient =
        new GoogleIdTokenVerifier.Builder(keys)
            .setAudience(List.of(TokenPool.AUDIENCE))
            .setIssuers(GOOGLE_ISSUERS)
            .build();
    googleAuth =
        TokenVerifier.newBuilder()
            .setAudience(TokenPool.AUDIENCE)
            .setIssuer(TestIssuer.GOOGLE_ISSUER)
            .setCertificatesLocation(issuer.jwksUri().toString())
            .build();

    checkEveryVerifierReallyVerifies();
  }

  private CallerVerifier.Builder ours() {
    return CallerVerifier.builder()
        .expectedAudiences(TokenPool.AUDIENCE)
        .allowlist(ServiceAccountAllowlist.parse(TokenPool.CALLER))
        .jwksUri(issuer.jwksUri())
        .keyFetchTimeout(Duration.ofSeconds(5));
  }

  private void checkEveryVerifierReallyVerifies() throws Exception {
    for (int i = 0; i < Math.min(3, pool.size()); i++) { // one token per key
      String good = pool.token(i);
      String tampered = TokenPool.tampered(good);
      Signature rs256 = Signature.getInstance("SHA256withRSA");
      rs256.initVerify(pool.key(i));
      rs256.update(pool.signingInput(i));
      require(rs256.verify(pool.signature(i)), "raw RSA accepts a good token");
      for (CallerVerifier verifier : List.of(uncached, cachedButMissing, cached)) {
        require(verifier.verifyToken(good).principal().equals(TokenPool.CALLER), "ours accepts");
        require(rejects(verifier, tampered), "ours rejects a tampered token");
      }
      require(googleApiClient(good), "GoogleIdTokenVerifier accepts a good token");
      require(!googleApiClient(tampered), "GoogleIdTokenVerifier rejects a tampered token");
      require(googleAuth(good), "TokenVerifier accepts a good token");
      require(!googleAuthAccepts(tampered), "TokenVerifier rejects a tampered token");
    }
    require(
        rejects(cached, issuer.mint("stranger@other.iam.gserviceaccount.com", TokenPool.AUDIENCE)),
        "ours rejects a caller who is not allowlisted");
  }

  private static boolean rejects(CallerVerifier verifier, String token) {
    try {
      verifier.verifyToken(token);
      return false;
    } catch (CallerRejectedException expected) {
      return true;
    }
  }

  private boolean googleAuthAccepts(String token) {
    try {
      return googleAuth(token);
    } catch (TokenVerifier.VerificationException rejected) {
      return false;
    }
  }

  /**
   * google-auth-library's verifier (it throws when the token is invalid) plus the same caller check
   * on the payload it returns.
   */
  private boolean googleAuth(String token) throws TokenVerifier.VerificationException {
    JsonWebSignature.Payload payload = googleAuth.verify(token).getPayload();
    return Boolean.TRUE.equals(payload.get("email_verified"))
        && TokenPool.CALLER.equals(payload.get("email"));
  }

  /**
   * google-api-client's verifier plus the allowlist check its users must write themselves (the
   * caller's email, verified), so that it does the same job as ours.
   */
  private boolean googleApiClient(String token) throws Exception {
    GoogleIdToken idToken = googleApiClient.verify(token);
    return idToken != null
        && Boolean.TRUE.equals(idToken.getPayload().getEmailVerified())
        && TokenPool.CALLER.equals(idToken.getPayload().getEmail());
  }

  private static void require(boolean condition, String what) {
    if (!condition) {
      throw new IllegalStateException("benchmark setup check failed: " + what);
    }
  }

  /** Stops the verifiers' background refresh and the loopback servers. */
  @TearDown(Level.Trial)
  public void tearDown() {
    for (CallerVerifier verifier : new CallerVerifier[] {uncached, cachedButMissing, cached}) {
      if (verifier != null) {
        verifier.close();
      }
    }
    if (pemCertificates != null) {
      pemCertificates.close();
    }
    if (issuer != null) {
      issuer.close();
    }
  }

  /**
   * (1) The floor: the JDK's {@code SHA256withRSA} verification of an already decoded signature
   * over an already encoded signing input, with the right key in hand and a reused {@link
   * Signature}. Nothing parsed, nothing checked but the signature.
   */
  @Benchmark
  public boolean rawJdkRsaVerify(Cursor cursor) throws GeneralSecurityException {
    int i = cursor.next(pool.size());
    Signature rs256 = cursor.rs256;
    rs256.initVerify(pool.key(i));
    rs256.update(pool.signingInput(i));
    return rs256.verify(pool.signature(i));
  }

  /** (2) Ours, token cache off: every request decoded, parsed, RSA-checked and judged in full. */
  @Benchmark
  public VerifiedCaller oursMissCacheOff(Cursor cursor) throws CallerRejectedException {
    return uncached.verifyToken(pool.token(cursor.next(pool.size())));
  }

  /**
   * (2b) Ours, token cache on but never hitting (a pool four times the cache bound, walked in
   * order): the full verification plus the cost of inserting and evicting.
   */
  @Benchmark
  public VerifiedCaller oursMissCacheOn(Cursor cursor) throws CallerRejectedException {
    return cachedButMissing.verifyToken(pool.token(cursor.next(pool.size())));
  }

  /**
   * (3) Ours, token cache hit. Each call verifies a fresh {@code String} made from the token's
   * bytes, as a server makes one from each request's header: its hash code is not yet computed, so
   * the cost of hashing the whole token is measured, not flattered away by {@link
   * String#hashCode()}'s caching. Key lookup, claims and allowlist are judged on every call.
   */
  @Benchmark
  public VerifiedCaller oursHit() throws CallerRejectedException {
    return cached.verifyToken(new String(hitTokenBytes, StandardCharsets.ISO_8859_1));
  }

  /**
   * (3b) Ours, token cache hit, from request headers as a function calls it: a fresh {@code
   * Authorization: Bearer} value per call, so the header rules (one value, scheme, size cap, a
   * single token) are part of the cost.
   */
  @Benchmark
  public VerifiedCaller oursHitFromHeaders() throws CallerRejectedException {
    return cached.verify(
        Map.of("Authorization", List.of(new String(hitHeaderBytes, StandardCharsets.ISO_8859_1))));
  }

  /** (4) google-api-client's {@code GoogleIdTokenVerifier}, plus the caller's email check. */
  @Benchmark
  public boolean googleApiClientVerifier(Cursor cursor) throws Exception {
    return googleApiClient(pool.token(cursor.next(pool.size())));
  }

  /** (5) google-auth-library's {@code TokenVerifier}, plus the caller's email check. */
  @Benchmark
  public boolean googleAuthTokenVerifier(Cursor cursor) throws Exception {
    return googleAuth(pool.token(cursor.next(pool.size())));
  }
}
