package dev.invokerguard.benchmarks;

import dev.invokerguard.testing.TestIssuer;
import dev.invokerguard.verifier.CallerVerifier;
import dev.invokerguard.verifier.ServiceAccountAllowlist;
import dev.invokerguard.verifier.VerifierSettings;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jol.info.GraphLayout;

/**
 * Measures the heap that the verified-token cache retains at its bound: fills a verifier's cache
 * with {@code N} distinct valid Google-shaped tokens (each verified as a fresh {@code String}, as a
 * server hands them over) and measures the verifier's object graph before and after, two ways:
 *
 * <ul>
 *   <li>JOL {@code GraphLayout.totalSize()} of everything reachable from the verifier (exact for
 *       the objects held; the key cache and configuration are in both readings and cancel out);
 *   <li>the used heap from {@code MemoryMXBean} after {@code System.gc()}, before and after, while
 *       the tokens themselves are held only as compact bytes (a cross-check, noisier).
 * </ul>
 *
 * <pre>java -cp benchmarks.jar dev.invokerguard.benchmarks.TokenCacheHeap [entries...]</pre>
 */
public final class TokenCacheHeap {
  private static final List<String> CALLERS =
      List.of(
          "api-client@client-project.iam.gserviceaccount.com",
          "batch-job@client-project.iam.gserviceaccount.com",
          "reporting@analytics-project.iam.gserviceaccount.com",
          "sync@partner-project.iam.gserviceaccount.com");

  private TokenCacheHeap() {}

  /**
   * Prints one line per bound: entries, bytes retained by JOL, by MemoryMXBean, per entry.
   *
   * @param args the cache bounds to measure; default 1000 and 10000 (the default bound)
   */
  public static void main(String[] args) throws Exception {
    // JOL's default field-offset lookup refuses record classes on JDK 17; this mode does not.
    System.setProperty("jol.magicFieldOffset", "true");
    int[] bounds =
        args.length == 0
            ? new int[] {1_000, VerifierSettings.VERIFIED_TOKEN_CACHE_ENTRIES.defaultValue()}
            : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
    try (TestIssuer issuer = TestIssuer.builder().keyCount(3).start()) {
      for (int bound : bounds) {
        measure(issuer, bound);
      }
    }
  }

  private static void measure(TestIssuer issuer, int entries) throws Exception {
    List<byte[]> tokens = mint(issuer, entries);
    int averageLength = (int) tokens.stream().mapToInt(t -> t.length).average().orElse(0);
    try (CallerVerifier verifier =
        CallerVerifier.builder()
            .expectedAudiences(TokenPool.AUDIENCE)
            .allowlist(ServiceAccountAllowlist.of(CALLERS))
            .jwksUri(issuer.jwksUri())
            .verifiedTokenCache(entries)
            .build()) {
      verifier.prefetchKeys().get(10, TimeUnit.SECONDS);
      verifier.verifyToken(new String(tokens.get(0), StandardCharsets.ISO_8859_1));
      long jolBefore = GraphLayout.parseInstance(verifier).totalSize();
      long heapBefore = usedHeapAfterGc();

      for (byte[] token : tokens) {
        verifier.verifyToken(new String(token, StandardCharsets.ISO_8859_1));
      }

      long heapAfter = usedHeapAfterGc();
      long jolAfter = GraphLayout.parseInstance(verifier).totalSize();
      long jol = jolAfter - jolBefore;
      long heap = heapAfter - heapBefore;
      System.out.printf(
          Locale.ROOT,
          "token-cache-heap entries=%d token_chars=%d jol_bytes=%d (%.1f MiB, %d per entry)"
              + " mxbean_bytes=%d (%.1f MiB, %d per entry)%n",
          entries,
          averageLength,
          jol,
          jol / 1048576.0,
          jol / entries,
          heap,
          heap / 1048576.0,
          heap / entries);
    }
  }

  /** Distinct valid tokens: four callers times one {@code iat} per second of the last hour. */
  private static List<byte[]> mint(TestIssuer issuer, int count) {
    Instant now = Instant.now();
    List<String> kids = issuer.keyIds();
    List<byte[]> tokens = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      String token =
          issuer
              .token()
              .email(CALLERS.get(i % CALLERS.size()))
              .audience(TokenPool.AUDIENCE)
              .issuedAt(now.minusSeconds(i / CALLERS.size() % 3500))
              .expiresAt(now.plusSeconds(3600))
              .signWithKey(kids.get(i % kids.size()))
              .build();
      tokens.add(token.getBytes(StandardCharsets.ISO_8859_1));
    }
    return tokens;
  }

  private static long usedHeapAfterGc() {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) { // until it stops shrinking: one gc may leave garbage behind
      System.gc();
      long now = memory.getHeapMemoryUsage().getUsed();
      if (now >= used) {
        break;
      }
      used = now;
    }
    return used;
  }
}
