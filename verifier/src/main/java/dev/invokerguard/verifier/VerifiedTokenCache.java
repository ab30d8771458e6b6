package dev.invokerguard.verifier;

import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Remembers tokens whose RS256 signature this verifier checked, so that a client reusing one token
 * for its hour costs a hash lookup instead of an RSA verification.
 *
 * <p>What an entry stands for is narrow on purpose: "this exact string is a well-formed JWS whose
 * signature verified with the key that {@code kid} named, and these are its claims". It is keyed by
 * the whole token, never by a part of it (keyed by the signature alone, a token with a swapped
 * payload would hit). Everything that can change between two requests is judged again on a hit by
 * {@link CallerVerifier}: the key is looked up again and compared, the claims (time with the skew,
 * issuer, audience) are re-checked against the current instant, and the allowlist is evaluated. So
 * a hit never changes a decision; it only skips decoding, JSON parsing and the signature check.
 *
 * <p>Bounded by entry count: at most {@code maxEntries} (plus the puts in flight at that instant).
 * Tokens longer than {@link #MAX_CACHED_TOKEN_CHARS} are never cached, so the heap held is at most
 * about {@code maxEntries} times an entry of {@code MAX_CACHED_TOKEN_CHARS} plus its claims;
 * Google's ID tokens are far shorter (BENCHMARKS.md measures the bytes per entry). Eviction is
 * first in, first out through a ring of slots: O(1), lock-free, and since every Google ID token
 * lives one hour from issue, the oldest insertion is close to the soonest expiry. An entry is never
 * returned at or past its {@code exp} plus the skew; such an entry is dropped when met.
 *
 * <p>Thread-safe. The hit path is one {@link ConcurrentHashMap#get} and a comparison, without a
 * lock.
 *
 * <p>The map's hash of a token is computed from its last {@link #HASHED_TAIL_CHARS} characters
 * only, and equality is the whole string's. A server builds a fresh {@code String} per request, so
 * {@code String.hashCode()} would walk the whole token (about 1 000 characters, a serial
 * multiply-add per character) on every hit: that walk was the largest single cost of a hit. The
 * tail of a cached token is the tail of its RSA signature, which is as good as random, so buckets
 * stay spread; only tokens whose signature verified are ever put, so nobody can fill one bucket
 * with made-up tokens, and a made-up token that shares a cached token's tail costs one failed
 * string comparison.
 */
final class VerifiedTokenCache {
  /**
   * Tokens longer than this are verified every time and never cached, so that the configured entry
   * count also bounds the memory. Google's ID tokens are about 1 KiB.
   */
  static final int MAX_CACHED_TOKEN_CHARS = 4096;

  /** A cache that holds nothing: every lookup misses and every put is ignored. */
  static final VerifiedTokenCache DISABLED = new VerifiedTokenCache(0);

  /** How many of a token's last characters its hash is computed from (see the class comment). */
  static final int HASHED_TAIL_CHARS = 32;

  /**
   * What a successful verification established about one token.
   *
   * @param caller the caller that verification returned: immutable and derived from the claims and
   *     the verifier's fixed configuration alone, so a hit that passes the same checks again hands
   *     out the same instance instead of building an equal one on every request
   */
  record Entry(
      String token,
      String kid,
      RSAPublicKey key,
      JoseJson.Claims claims,
      VerifiedCaller caller,
      long usableUntilSecond) {
    Entry {
      Objects.requireNonNull(token, "token");
      Objects.requireNonNull(kid, "kid");
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(claims, "claims");
      Objects.requireNonNull(caller, "caller");
    }
  }

  private final int maxEntries;
  private final ConcurrentHashMap<TokenKey, Entry> entries;
  // Slot i holds the entry inserted i-th modulo maxEntries; reusing a slot evicts its occupant.
  private final AtomicReferenceArray<Entry> ring;
  private final AtomicLong insertions = new AtomicLong();

  /**
   * @param maxEntries the most entries held; 0 disables the cache
   */
  VerifiedTokenCache(int maxEntries) {
    if (maxEntries < 0) {
      throw new IllegalArgumentException("maxEntries must be >= 0, got " + maxEntries);
    }
    this.maxEntries = maxEntries;
    // Sized so that the table never resizes under its bound (default load factor 0.75).
    this.entries = new ConcurrentHashMap<>(maxEntries == 0 ? 1 : maxEntries + maxEntries / 3 + 1);
    this.ring = new AtomicReferenceArray<>(maxEntries);
  }

  /** The configured bound; 0 when disabled. */
  int maxEntries() {
    return maxEntries;
  }

  /** The number of entries held now (may include expired entries not yet met or evicted). */
  int size() {
    return entries.size();
  }

  /**
   * Returns the entry for exactly this token, or {@code null} when there is none or it is at or
   * past its {@code exp} plus the skew (then it is also dropped).
   */
  Entry get(String token, Instant now) {
    if (maxEntries == 0) {
      return null;
    }
    TokenKey key = new TokenKey(token);
    Entry entry = entries.get(key);
    if (entry == null) {
      return null;
    }
    if (now.getEpochSecond() >= entry.usableUntilSecond()) {
      entries.remove(key, entry);
      return null;
    }
    return entry;
  }

  /**
   * Remembers a token after every check passed. Called only then: a rejection is never cached.
   *
   * @param skewSeconds the verifier's clock skew: the entry is usable until {@code exp + skew}, the
   *     same instant at which the claim check starts saying {@link Reason#EXPIRED}
   */
  void put(
      String token,
      String kid,
      RSAPublicKey key,
      JoseJson.Claims claims,
      VerifiedCaller caller,
      long skewSeconds) {
    if (maxEntries == 0 || token.length() > MAX_CACHED_TOKEN_CHARS || claims.exp() == null) {
      return;
    }
    Entry entry = new Entry(token, kid, key, claims, caller, claims.exp() + skewSeconds);
    if (entries.putIfAbsent(new TokenKey(token), entry) != null) {
      return; // another thread verified the same token at the same time; one entry is enough
    }
    int slot = (int) Math.floorMod(insertions.getAndIncrement(), (long) maxEntries);
    Entry evicted = ring.getAndSet(slot, entry);
    if (evicted != null) {
      // Removes exactly the entry that held this slot; a later entry for the same token (after
      // the old one expired and was dropped) owns another slot and stays.
      entries.remove(new TokenKey(evicted.token()), evicted);
    }
  }

  /** A token as a map key: hashed by its tail, equal by the whole string. */
  static final class TokenKey {
    private final String token;
    private final int hash;

    TokenKey(String token) {
      this.token = token;
      int h = token.length();
      for (int i = Math.max(0, token.length() - HASHED_TAIL_CHARS); i < token.length(); i++) {
        h = 31 * h + token.charAt(i);
      }
      this.hash = h;
    }

    @Override
    public int hashCode() {
      return hash;
    }

    /**
     * The whole string's {@code equals}: the JDK compares two strings' bytes with vectorized
     * instructions. ({@code regionMatches}, which would spare copying the token out of its header,
     * compares byte by byte, and a hit measured slower with it; docs/DESIGN.md.)
     */
    @Override
    public boolean equals(Object other) {
      return other instanceof TokenKey key && hash == key.hash && token.equals(key.token);
    }
  }
}
