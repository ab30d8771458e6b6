package dev.invokerguard.verifier;

import java.net.URI;
import java.security.interfaces.RSAPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Verifies the Google-signed ID token that a caller forwards, and checks the caller against a
 * {@link ServiceAccountAllowlist}. Thread-safe; build one per process and share it.
 *
 * <p>The pipeline, in order; the first failing step decides the {@link Reason}:
 *
 * <ol>
 *   <li>Header: {@code X-Serverless-Authorization} when present, else {@code Authorization}; one
 *       value, at most 16 KiB, scheme {@code Bearer} (RFC 6750 section 2.1).
 *   <li>Form: a compact JWS of three strict base64url parts (RFC 7515 section 7.1) whose header and
 *       payload are strict JSON objects without duplicate members.
 *   <li>Header: {@code alg} exactly {@code RS256} (RFC 8725 section 3.1), {@code kid} present, no
 *       {@code crit} (RFC 7515 section 4.1.11), {@code typ} absent or {@code JWT}.
 *   <li>Signature: RS256 with the key named by {@code kid} from the signer's JWKS (keys cached per
 *       {@code Cache-Control}; see {@link Builder}). A signature replaced by {@code
 *       SIGNATURE_REMOVED_BY_GOOGLE} in {@code X-Serverless-Authorization} with a {@code Bearer}
 *       copy in {@code Authorization}: the copy is verified in full and must name the same caller
 *       ({@link Reason#CALLER_MISMATCH}). Without a copy, rejected. With {@link
 *       Builder#trustPlatformVerifiedTokens()}, a stripped token is trusted instead, copy or not.
 *   <li>Claims (RFC 7519 section 4.1) with a clock skew: {@code iss} one of the issuers, {@code
 *       aud} naming an expected audience exactly, {@code exp} in the future, {@code iat} not in the
 *       future, {@code nbf} honoured, {@code sub} present.
 *   <li>Allowlist: {@code sub} among the unique IDs, or {@code email} (with {@code email_verified})
 *       among the emails.
 * </ol>
 *
 * <p>A token that passed every step is remembered (bounded, see {@link
 * Builder#verifiedTokenCache(int)}); when it comes again, decoding and the signature check are
 * skipped, but its key is looked up again and steps 5 and 6 run as for a new token.
 *
 * <p>There is no permissive default: {@link Builder#build()} refuses a verifier without an audience
 * or an allowlist.
 *
 * <p>Observability without a logging or metrics library: the key set's state changes (loaded, a
 * fetch failed, stale keys in use, no usable keys, recovered) go to a {@link KeyHealthListener} (by
 * default through {@link System.Logger}), once per change and never per request; and {@link
 * #stats()} returns the counters (decisions by reason, token cache hits and misses, key fetches by
 * outcome, the key set's age) for a team to export to its own metrics system.
 */
public final class CallerVerifier implements AutoCloseable {
  /** Google's JWKS for ID tokens, as published. */
  public static final URI GOOGLE_JWKS_URI =
      URI.create("https://www.googleapis.com/oauth2/v3/certs");

  /** The issuers Google writes into ID tokens (both spellings occur). */
  public static final List<String> GOOGLE_ISSUERS =
      List.of("https://accounts.google.com", "accounts.google.com");

  private final ClaimRules claimRules;
  private final ServiceAccountAllowlist allowlist;
  private final Clock clock;
  private final boolean trustPlatformVerifiedTokens;
  private final KeySource keys;
  private final VerifiedTokenCache tokenCache;
  private final Duration keyRefetchInterval;
  private final DecisionCounters counters = new DecisionCounters();

  private CallerVerifier(
      Builder builder, KeySource keys, VerifiedTokenCache tokenCache, Duration keyRefetchInterval) {
    this.claimRules = new ClaimRules(builder.issuers, builder.audiences, builder.clockSkew);
    this.allowlist = builder.allowlist;
    this.clock = builder.clock;
    this.trustPlatformVerifiedTokens = builder.trustPlatformVerifiedTokens;
    this.keys = keys;
    this.tokenCache = tokenCache;
    this.keyRefetchInterval = keyRefetchInterval;
  }

  /**
   * Whether {@code uri} is accepted by {@link Builder#jwksUri}: {@code https}, or {@code http} on a
   * loopback address.
   */
  public static boolean isAcceptableJwksUri(URI uri) {
    return KeyCacheConfig.isAcceptableJwksUri(uri);
  }

  /**
   * Starts a builder; {@link Builder#expectedAudiences} and {@link Builder#allowlist} are required.
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Verifies the caller of a request.
   *
   * @param headers the request's headers, names to values; names are matched case-insensitively
   *     whether or not the map itself is case-insensitive
   * @return the verified, allowlisted caller; never {@code null}
   * @throws CallerRejectedException with the reason when the request must not pass
   */
  public VerifiedCaller verify(Map<String, ? extends List<String>> headers)
      throws CallerRejectedException {
    Objects.requireNonNull(headers, "headers");
    BearerHeaders.Credentials credentials;
    try {
      credentials = BearerHeaders.read(headers);
    } catch (CallerRejectedException e) {
      counters.rejected(DecisionCounters.NO_LOOKUP, e.reason());
      throw e;
    } catch (RuntimeException e) {
      counters.failed(DecisionCounters.NO_LOOKUP);
      throw e;
    }
    try {
      return verifyCounted(credentials.token(), credentials);
    } catch (CallerRejectedException e) {
      throw e.from(credentials.sourceOf());
    }
  }

  /**
   * Verifies a compact-serialized ID token (without the {@code Bearer} prefix) and its caller, for
   * callers that do not come through HTTP headers. Prefer {@link #verify(Map)} for HTTP requests:
   * it judges the same header the platform judged.
   *
   * @return the verified, allowlisted caller; never {@code null}
   * @throws CallerRejectedException with the reason when the token must not pass
   */
  public VerifiedCaller verifyToken(String token) throws CallerRejectedException {
    Objects.requireNonNull(token, "token");
    return verifyCounted(token, null);
  }

  /**
   * The verification of one request's token, counted once in {@link #counters}.
   *
   * <p>First the verified-token cache ({@link VerifiedTokenCache}), see {@link #cached}; on a miss
   * the token is verified in full.
   *
   * @param credentials the request's credentials headers, or {@code null} for {@link #verifyToken};
   *     when given, the token still has to pass {@link BearerHeaders#requireSingleToken} (only on a
   *     miss: a string equal to a cached token is known to be one clean token)
   */
  private VerifiedCaller verifyCounted(String token, BearerHeaders.Credentials credentials)
      throws CallerRejectedException {
    Instant now = clock.instant(); // read once; every check below sees the same instant
    int lookup = DecisionCounters.HIT;
    try {
      VerifiedCaller caller =
          cached(token, now, credentials == null ? null : credentials.intactSource());
      if (caller != null) {
        counters.allowedHit();
        return caller;
      }
      lookup = DecisionCounters.MISS;
      if (credentials != null) {
        BearerHeaders.requireSingleToken(token);
      }
      caller = verifyUncached(token, now, credentials);
      counters.allowed(DecisionCounters.MISS);
      return caller;
    } catch (CallerRejectedException e) {
      counters.rejected(lookup, e.reason());
      throw e;
    } catch (RuntimeException e) {
      counters.failed(lookup);
      throw e;
    }
  }

  /**
   * The verified-token cache's answer for {@code token}, or {@code null} when it has none.
   *
   * <p>A hit stands only for "this exact string is a well-formed token whose signature verified
   * with the key its kid named". The key is looked up again, and the claim rules and the allowlist
   * are run again exactly as on a miss, so a hit never changes a decision; it may reject (an
   * expired token). The caller returned is the one this verifier built for the token, under {@code
   * source} ({@link VerifiedCaller#withSource}: the same instance per source): each verifier has
   * its own cache, and the caller depends only on the claims and the verifier's fixed
   * configuration. A cached entry whose kid now names another key is a miss: verified in full.
   */
  private VerifiedCaller cached(String token, Instant now, TokenSource source)
      throws CallerRejectedException {
    VerifiedTokenCache.Entry cached = tokenCache.get(token, now);
    if (cached != null && cached.key().equals(keys.key(cached.kid(), now))) {
      checkClaimsAndAllowlist(cached.claims(), now);
      return cached.caller().withSource(source);
    }
    return null;
  }

  /** Every check of a token that the cache did not answer for; caches the token if it passes. */
  private VerifiedCaller verifyUncached(
      String token, Instant now, BearerHeaders.Credentials credentials)
      throws CallerRejectedException {
    CompactJws jws = CompactJws.split(token);
    String kid = jws.checkHeader();
    if (jws.signatureRemoved()) {
      return verifyStripped(jws, now, credentials);
    }
    return verifySigned(
        token, jws, kid, now, credentials == null ? null : credentials.intactSource());
  }

  /** Steps 4 to 6 for a token whose signature is there: RS256, claims, allowlist; then cached. */
  private VerifiedCaller verifySigned(
      String token, CompactJws jws, String kid, Instant now, TokenSource source)
      throws CallerRejectedException {
    RSAPublicKey key = keys.key(kid, now);
    jws.verifySignature(key);
    JoseJson.Claims claims = jws.claims();
    String audience = checkClaimsAndAllowlist(claims, now);
    VerifiedCaller caller =
        newCaller(claims, audience, VerifiedCaller.SignatureCheck.VERIFIED, source);
    // Only after every check passed: a rejection is never cached.
    tokenCache.put(token, kid, key, claims, caller, claimRules.skewSeconds());
    return caller;
  }

  /**
   * A token whose signature the platform removed; never cached. Its claims are never enough on
   * their own, except in trust mode:
   *
   * <ul>
   *   <li>trust mode off: with a {@code Bearer} copy in {@code Authorization} beside a stripped
   *       {@code X-Serverless-Authorization}, the copy decides ({@link #verifyCopy}); without one,
   *       {@link Reason#SIGNATURE_REMOVED};
   *   <li>trust mode on: the stripped token is trusted as the platform's judgement, in either
   *       header, and its claims and the allowlist are checked; {@code Authorization} beside it is
   *       left to the application, as Cloud Run leaves it (docs/FUNCTION.md, "Both headers").
   * </ul>
   */
  private VerifiedCaller verifyStripped(
      CompactJws jws, Instant now, BearerHeaders.Credentials credentials)
      throws CallerRejectedException {
    boolean fromServerless = credentials != null && credentials.fromServerless();
    TokenSource source =
        credentials == null
            ? null
            : fromServerless ? TokenSource.STRIPPED_SERVERLESS : TokenSource.STRIPPED_AUTHORIZATION;
    if (!trustPlatformVerifiedTokens) {
      String copy = fromServerless ? credentials.authorizationCopy() : null;
      if (copy != null) {
        return verifyCopy(jws.claims(), copy, now);
      }
      throw reject(
              Reason.SIGNATURE_REMOVED,
              fromServerless
                  ? "the platform removed the signature of the X-Serverless-Authorization token and"
                      + " no copy came in Authorization; this verifier does not trust platform"
                      + " checks: send the ID token in both X-Serverless-Authorization and"
                      + " Authorization"
                  : "the token came with its signature removed and this verifier does not trust"
                      + " platform checks: send the ID token in both X-Serverless-Authorization and"
                      + " Authorization")
          .from(source);
    }
    JoseJson.Claims claims = jws.claims();
    String audience = checkClaimsAndAllowlist(claims, now);
    return newCaller(claims, audience, VerifiedCaller.SignatureCheck.TRUSTED_PLATFORM, source);
  }

  /**
   * The {@code Authorization} copy beside a stripped {@code X-Serverless-Authorization} token:
   * verified completely (signature, every claim, the allowlist; the cache may answer, as for any
   * token), then it must name the caller the stripped token names: the same {@code sub}, and the
   * same {@code email} when the stripped token has one and the copy a verified one. The copy's
   * caller is the answer; a failure of the copy is a denial with the copy's own reason, and a
   * different caller is {@link Reason#CALLER_MISMATCH}.
   */
  private VerifiedCaller verifyCopy(JoseJson.Claims stripped, String copy, Instant now)
      throws CallerRejectedException {
    TokenSource source = TokenSource.AUTHORIZATION_BESIDE_STRIPPED;
    VerifiedCaller caller;
    try {
      caller = cached(copy, now, source);
      if (caller == null) {
        BearerHeaders.requireSingleToken(copy);
        CompactJws jws = CompactJws.split(copy);
        String kid = jws.checkHeader();
        if (jws.signatureRemoved()) {
          throw reject(
                  Reason.SIGNATURE_REMOVED,
                  "both X-Serverless-Authorization and its copy in Authorization came with the"
                      + " signature removed: nothing left to verify")
              .from(TokenSource.STRIPPED_AUTHORIZATION_BESIDE_STRIPPED);
        }
        caller = verifySigned(copy, jws, kid, now, source);
      }
    } catch (CallerRejectedException e) {
      throw e.from(source);
    }
    if (!caller.subject().equals(stripped.sub())
        || (stripped.email() != null
            && caller.email().isPresent()
            && !caller.email().get().equals(stripped.email()))) {
      throw reject(
              Reason.CALLER_MISMATCH,
              "the Authorization copy names another caller than the stripped"
                  + " X-Serverless-Authorization token")
          .from(source);
    }
    return caller;
  }

  private static VerifiedCaller newCaller(
      JoseJson.Claims claims,
      String audience,
      VerifiedCaller.SignatureCheck signatureCheck,
      TokenSource source) {
    return new VerifiedCaller(
        claims.sub(),
        claims.emailVerified() ? claims.email() : null,
        claims.iss(),
        audience,
        Instant.ofEpochSecond(claims.iat()),
        Instant.ofEpochSecond(claims.exp()),
        signatureCheck,
        source);
  }

  /**
   * The checks that follow the signature, run on every request, cache hit or not: the claim rules,
   * then the allowlist.
   *
   * @return the configured audience that the token's {@code aud} named
   */
  private String checkClaimsAndAllowlist(JoseJson.Claims claims, Instant now)
      throws CallerRejectedException {
    String audience = claimRules.validate(claims, now);
    allowlist.check(claims.sub(), claims.email(), claims.emailVerified());
    return audience;
  }

  /**
   * Starts loading the signing keys in the background and returns at once, so that the first
   * request does not wait for them. The future completes when a key set is loaded.
   */
  public CompletableFuture<Void> prefetchKeys() {
    return keys.prefetch();
  }

  /**
   * A snapshot of this verifier's counters (see {@link VerifierStats}): decisions by reason,
   * verified-token cache hits and misses, key fetches by outcome, the last key health state and the
   * key set's age. Cheap enough to call every few seconds; the counting itself costs one counter
   * increment per verification. Export example: docs/FUNCTION.md, "Counters".
   */
  public VerifierStats stats() {
    Instant now = clock.instant();
    KeySource.KeyStatus keyStatus = keys.status(now);
    Map<KeyFetchOutcome, Long> fetches = new EnumMap<>(KeyFetchOutcome.class);
    for (KeyFetchOutcome outcome : KeyFetchOutcome.values()) {
      fetches.put(outcome, keyStatus.fetches()[outcome.ordinal()]);
    }
    return new VerifierStats(
        now,
        counters.allowed(),
        counters.rejected(),
        counters.failed(),
        counters.lookups(DecisionCounters.HIT),
        counters.lookups(DecisionCounters.MISS),
        fetches,
        Optional.ofNullable(keyStatus.health()),
        keyStatus.keyCount(),
        Optional.ofNullable(keyStatus.keySetAge()));
  }

  /**
   * The interval this verifier was built with: at most one key fetch starts per interval ({@link
   * VerifierSettings#KEY_REFETCH_INTERVAL}). When keys are unavailable, a retry sooner than this
   * cannot find new ones, so it is the {@code Retry-After} of the answer.
   */
  public Duration keyRefetchInterval() {
    return keyRefetchInterval;
  }

  /** The verified-token cache, for tests. */
  VerifiedTokenCache tokenCache() {
    return tokenCache;
  }

  /** Stops the background key refresh. */
  @Override
  public void close() {
    keys.close();
  }

  private static CallerRejectedException reject(Reason reason, String message) {
    return new CallerRejectedException(reason, message);
  }

  /**
   * Configures a {@link CallerVerifier}. Strict by default: {@link #build()} fails unless at least
   * one audience and an allowlist were given; every other setting has a safe default.
   */
  public static final class Builder {
    private final Set<String> audiences = new LinkedHashSet<>();
    private final Set<String> issuers = new LinkedHashSet<>(GOOGLE_ISSUERS);
    private ServiceAccountAllowlist allowlist;
    private Duration clockSkew = VerifierSettings.CLOCK_SKEW.defaultValue();
    private Clock clock = Clock.systemUTC();
    private final KeyCacheConfig.Builder keyCache = KeyCacheConfig.builder();
    private boolean trustPlatformVerifiedTokens;
    private KeySource keySource;
    private int verifiedTokenCacheEntries =
        VerifierSettings.VERIFIED_TOKEN_CACHE_ENTRIES.defaultValue();

    private Builder() {}

    /**
     * Adds audiences the token's {@code aud} may name (RFC 7519 section 4.1.3), compared exactly:
     * the URLs the function answers at. Required.
     */
    public Builder expectedAudiences(String... audiences) {
      return expectedAudiences(Arrays.asList(audiences));
    }

    /** As {@link #expectedAudiences(String...)}. */
    public Builder expectedAudiences(Iterable<String> audiences) {
      for (String audience : audiences) {
        if (audience == null || audience.isBlank() || !audience.equals(audience.strip())) {
          throw new IllegalArgumentException(
              "an audience must be non-blank without surrounding spaces, got '" + audience + "'");
        }
        this.audiences.add(audience);
      }
      return this;
    }

    /** The service accounts allowed to call. Required. */
    public Builder allowlist(ServiceAccountAllowlist allowlist) {
      this.allowlist = Objects.requireNonNull(allowlist, "allowlist");
      return this;
    }

    /**
     * Replaces the accepted issuers (default {@link #GOOGLE_ISSUERS}). Only for a signer other than
     * Google, such as a local development issuer.
     */
    public Builder issuers(String... issuers) {
      if (issuers.length == 0) {
        throw new IllegalArgumentException("at least one issuer is required");
      }
      this.issuers.clear();
      for (String issuer : issuers) {
        if (issuer == null || issuer.isBlank()) {
          throw new IllegalArgumentException("an issuer must be non-blank");
        }
        this.issuers.add(issuer);
      }
      return this;
    }

    /**
     * The clock skew allowed on {@code exp}, {@code nbf} and {@code iat}; see {@link
     * VerifierSettings#CLOCK_SKEW}.
     */
    public Builder clockSkew(Duration clockSkew) {
      this.clockSkew = VerifierSettings.CLOCK_SKEW.check(clockSkew);
      return this;
    }

    /** The time source (default the system UTC clock); tests inject a fixed or mutable clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      keyCache.clock(clock);
      return this;
    }

    /**
     * Where the signing keys are fetched (default {@link #GOOGLE_JWKS_URI}). Must be {@code https},
     * except on a loopback address, which is allowed for tests and local development.
     */
    public Builder jwksUri(URI jwksUri) {
      keyCache.jwksUri(jwksUri);
      return this;
    }

    /**
     * The HTTP seam of the key fetch (default {@link KeyEndpointConnector#JDK}): how a connection
     * to the key endpoint is opened, for a proxy or a custom trust store. The verifier still sets
     * the timeouts and the other fetch rules on the connection it gets.
     */
    public Builder keyEndpointConnector(KeyEndpointConnector connector) {
      keyCache.connector(connector);
      return this;
    }

    /**
     * Hard deadline of one whole key fetch (connect, TLS, status, headers, body; the fetch is given
     * up and disconnected at the deadline, also used as connect and read timeout), and about the
     * longest a request waits for keys when none are loaded; see {@link
     * VerifierSettings#KEY_FETCH_TIMEOUT}.
     */
    public Builder keyFetchTimeout(Duration timeout) {
      keyCache.keyFetchTimeout(timeout);
      return this;
    }

    /**
     * How long past its expiry the last good key set is still used while fetches fail; see {@link
     * VerifierSettings#MAX_KEY_STALENESS}. Zero means never use an expired key set.
     */
    public Builder maxKeyStaleness(Duration staleness) {
      keyCache.maxKeyStaleness(staleness);
      return this;
    }

    /**
     * At most one key fetch starts per interval, whatever triggers it, so that tokens with made-up
     * {@code kid}s cannot make the verifier hammer the key endpoint; see {@link
     * VerifierSettings#KEY_REFETCH_INTERVAL}.
     */
    public Builder keyRefetchInterval(Duration interval) {
      keyCache.keyRefetchInterval(interval);
      return this;
    }

    /**
     * Key set responses larger than this are refused (Google's is a few KiB); see {@link
     * VerifierSettings#MAX_KEY_SET_BYTES}.
     */
    public Builder maxKeySetBytes(int bytes) {
      keyCache.maxKeySetBytes(bytes);
      return this;
    }

    /**
     * Accepts tokens whose signature Google replaced by {@code SIGNATURE_REMOVED_BY_GOOGLE}, on the
     * grounds that Google's front end verified them before removing it. Every claim and the
     * allowlist are still checked, and the caller is marked {@link
     * VerifiedCaller.SignatureCheck#TRUSTED_PLATFORM}. Safe only where no request can reach the
     * function without passing Google's front end (see SECURITY.md). Off by default.
     *
     * <p>In this mode a stripped {@code X-Serverless-Authorization} token is trusted whatever
     * {@code Authorization} holds: that header is left to the application, as Cloud Run leaves it
     * (without this mode, a {@code Bearer} copy there must verify and name the same caller;
     * docs/FUNCTION.md, "Both headers").
     */
    public Builder trustPlatformVerifiedTokens() {
      this.trustPlatformVerifiedTokens = true;
      return this;
    }

    /**
     * Bounds the verified-token cache (see {@link VerifierSettings#VERIFIED_TOKEN_CACHE_ENTRIES});
     * 0 turns it off. Clients reuse one ID token for up to an hour, so after its first request a
     * token costs a hash lookup instead of an RS256 verification.
     *
     * <p>The cache is keyed by the whole token and holds only tokens that passed every check;
     * rejections are never cached. On a hit the signing key is looked up again (a key that is no
     * longer published rejects the token as on a miss), the time claims are checked against the
     * current instant with the skew, and the issuer, audience and allowlist are evaluated again: a
     * hit never changes a decision. Eviction is first in, first out. Tokens over 4 KiB are never
     * cached, so the entry count bounds the heap held (BENCHMARKS.md gives the bytes per entry).
     *
     * @param maxEntries 0 to {@code VerifierSettings.VERIFIED_TOKEN_CACHE_ENTRIES.max()}
     */
    public Builder verifiedTokenCache(int maxEntries) {
      this.verifiedTokenCacheEntries =
          VerifierSettings.VERIFIED_TOKEN_CACHE_ENTRIES.check(maxEntries);
      return this;
    }

    /** Turns the verified-token cache off: every token is verified in full. */
    public Builder disableVerifiedTokenCache() {
      return verifiedTokenCache(0);
    }

    /**
     * Receives the key set's state changes (see {@link KeyHealthListener}): one call per change,
     * never per request. Default {@link KeyHealthListener#systemLogger()}, so that changes are
     * never silent; {@code verifier-functions} sets one that writes JSON lines for Cloud Logging.
     */
    public Builder keyHealthListener(KeyHealthListener listener) {
      keyCache.keyHealthListener(listener);
      return this;
    }

    /** Replaces the key cache, for tests. */
    Builder keySource(KeySource keySource) {
      this.keySource = Objects.requireNonNull(keySource, "keySource");
      return this;
    }

    /**
     * Builds the verifier. No key is fetched yet; call {@link CallerVerifier#prefetchKeys()} at
     * start-up so that the first request does not wait.
     *
     * @throws IllegalStateException if no audience or no allowlist was given
     */
    public CallerVerifier build() {
      if (audiences.isEmpty()) {
        throw new IllegalStateException(
            "no expected audience: call expectedAudiences(..) with the URL(s) the function answers at");
      }
      if (allowlist == null) {
        throw new IllegalStateException(
            "no allowlist: call allowlist(..) with the service accounts allowed to call");
      }
      KeyCacheConfig keyCacheConfig = keyCache.build();
      KeySource keys = keySource;
      if (keys == null) {
        keys = new JwksKeyCache(keyCacheConfig);
      }
      // Each verifier its own cache: an entry's caller is this verifier's answer for the token.
      VerifiedTokenCache tokenCache =
          verifiedTokenCacheEntries == 0
              ? VerifiedTokenCache.DISABLED
              : new VerifiedTokenCache(verifiedTokenCacheEntries);
      return new CallerVerifier(this, keys, tokenCache, keyCacheConfig.keyRefetchInterval());
    }
  }
}
