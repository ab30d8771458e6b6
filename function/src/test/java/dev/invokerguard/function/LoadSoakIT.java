package dev.invokerguard.function;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A bounded soak of the deployable jar in the real Functions Framework invoker, on loopback: 64
 * client threads, each with its own connection, send a mix of valid, stranger, expired, forged,
 * malformed and missing credentials for {@code soak.duration} (default 20 seconds; {@code
 * -Dsoak.duration=PT5M} for the long run, see docs/FUZZING.md). Every response is checked against
 * what its token deserves.
 *
 * <p>Passes when: no 5xx, no wrong decision, no transport error, the invoker still runs, and its
 * heap is bounded. The heap is read from outside with {@code jcmd <pid> GC.heap_info} after a full
 * GC ({@code jcmd <pid> GC.run}), before and after the soak; the child runs with {@code -Xmx256m}
 * (the {@link ChildJvm} default), and the bound is {@value #LIVE_HEAP_BOUND_MIB} MiB used after the
 * soak and {@value #HEAP_GROWTH_BOUND_MIB} MiB growth over the pre-soak reading.
 */
class LoadSoakIT {
  private static final String ALICE = "alice@caller-project.iam.gserviceaccount.com";
  private static final String ID_ONLY = "batch@caller-project.iam.gserviceaccount.com";
  private static final String STRANGER = "stranger@other-project.iam.gserviceaccount.com";
  private static final int CONNECTIONS = 64;
  static final int LIVE_HEAP_BOUND_MIB = 96;
  static final int HEAP_GROWTH_BOUND_MIB = 32;

  /** What a request carries, and the status it deserves. */
  private enum Kind {
    VALID(200),
    VALID_BY_UNIQUE_ID(200),
    STRANGER(403),
    EXPIRED(401),
    FORGED(401),
    MALFORMED(401),
    ALG_NONE(401),
    NO_CREDENTIALS(401);

    final int expected;

    Kind(int expected) {
      this.expected = expected;
    }
  }

  @Test
  void soak_64ConnectionsMixedTokens_noServerErrorNoWrongDecisionHeapBounded() throws Exception {
    Duration duration = Duration.parse(System.getProperty("soak.duration", "PT20S"));
    try (TestIssuer issuer = TestIssuer.start()) {
      int port = ChildJvm.freePort();
      String audience = RunningFunction.audience(port);
      Map<Kind, List<String>> tokens = tokens(issuer, audience);
      try (RunningFunction function =
          RunningFunction.start(
              port,
              Map.of(
                  "ALLOWED_INVOKERS",
                  ALICE + "," + TestIssuer.uniqueIdOf(ID_ONLY),
                  "EXPECTED_AUDIENCES",
                  audience,
                  "JWKS_URL",
                  issuer.jwksUri().toString(),
                  "TOKEN_ISSUERS",
                  issuer.issuer()))) {
        long pid = function.jvm.process().pid();
        // Warm up (keys loaded, classes loaded), then the baseline heap reading.
        for (Kind kind : Kind.values()) {
          assertThat(send(HttpClient.newHttpClient(), function, kind, tokens.get(kind).get(0)))
              .isEqualTo(kind.expected);
        }
        long heapBefore = usedHeapAfterFullGc(pid);

        Tally tally = drive(function, tokens, duration);

        assertThat(function.jvm.isAlive()).isTrue();
        long heapAfter = usedHeapAfterFullGc(pid);
        String report =
            String.format(
                "soak %s at %d connections: %d requests (%.0f/s), by status %s, by kind %s, "
                    + "wrong %d, 5xx %d, transport errors %d, slowest %d ms; heap used after full"
                    + " GC %d KiB before, %d KiB after",
                duration,
                CONNECTIONS,
                tally.total.sum(),
                tally.total.sum() / Math.max(1.0, tally.elapsed.toMillis() / 1000.0),
                tally.byStatus,
                tally.byKind,
                tally.wrong.sum(),
                tally.serverErrors.sum(),
                tally.transportErrors.sum(),
                tally.slowestMillis.get(),
                heapBefore / 1024,
                heapAfter / 1024);
        System.out.println(report); // the counts go to the test report, for the record
        assertWithMessage(report).that(tally.total.sum()).isGreaterThan(0L);
        assertWithMessage(report).that(tally.serverErrors.sum()).isEqualTo(0L);
        assertWithMessage(report).that(tally.wrong.sum()).isEqualTo(0L);
        assertWithMessage(report).that(tally.transportErrors.sum()).isEqualTo(0L);
        for (Kind kind : Kind.values()) {
          assertWithMessage(report).that(tally.byKind.getOrDefault(kind, 0L)).isGreaterThan(0L);
        }
        assertWithMessage(report).that(heapAfter).isLessThan(LIVE_HEAP_BOUND_MIB * 1024L * 1024);
        assertWithMessage(report)
            .that(heapAfter - heapBefore)
            .isLessThan(HEAP_GROWTH_BOUND_MIB * 1024L * 1024);
      }
    }
  }

  /** Counts of a soak, updated by all client threads. */
  private static final class Tally {
    final LongAdder total = new LongAdder();
    final LongAdder wrong = new LongAdder();
    final LongAdder serverErrors = new LongAdder();
    final LongAdder transportErrors = new LongAdder();
    final Map<Integer, Long> byStatus = new ConcurrentHashMap<>();
    final Map<Kind, Long> byKind = new ConcurrentHashMap<>();
    final AtomicLong slowestMillis = new AtomicLong();
    volatile Duration elapsed = Duration.ZERO;
  }

  /**
   * 64 platform threads, each with its own HTTP/1.1 client (so its own keep-alive connection),
   * sending requests back to back until the duration has passed.
   */
  private static Tally drive(
      RunningFunction function, Map<Kind, List<String>> tokens, Duration duration)
      throws Exception {
    Tally tally = new Tally();
    Instant start = Instant.now();
    Instant end = start.plus(duration);
    ExecutorService pool = Executors.newFixedThreadPool(CONNECTIONS);
    try {
      List<Future<?>> workers = new ArrayList<>();
      for (int i = 0; i < CONNECTIONS; i++) {
        long seed = i;
        workers.add(
            pool.submit(
                () -> {
                  HttpClient client =
                      HttpClient.newBuilder()
                          .version(HttpClient.Version.HTTP_1_1)
                          .connectTimeout(Duration.ofSeconds(5))
                          .build();
                  Random random = new Random(seed);
                  Kind[] kinds = Kind.values();
                  while (Instant.now().isBefore(end)) {
                    Kind kind = kinds[random.nextInt(kinds.length)];
                    List<String> candidates = tokens.get(kind);
                    String token = candidates.get(random.nextInt(candidates.size()));
                    long sent = System.nanoTime();
                    int status;
                    try {
                      status = send(client, function, kind, token);
                    } catch (IOException e) {
                      tally.transportErrors.increment();
                      continue;
                    }
                    tally.slowestMillis.accumulateAndGet(
                        (System.nanoTime() - sent) / 1_000_000, Math::max);
                    tally.total.increment();
                    tally.byStatus.merge(status, 1L, Long::sum);
                    tally.byKind.merge(kind, 1L, Long::sum);
                    if (status >= 500) {
                      tally.serverErrors.increment();
                    }
                    if (status != kind.expected) {
                      tally.wrong.increment();
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> worker : workers) {
        worker.get();
      }
    } finally {
      pool.shutdownNow();
    }
    tally.elapsed = Duration.between(start, Instant.now());
    return tally;
  }

  private static int send(HttpClient client, RunningFunction function, Kind kind, String token)
      throws IOException, InterruptedException {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + function.port + "/"))
            .timeout(Duration.ofSeconds(30))
            .GET();
    if (kind != Kind.NO_CREDENTIALS) {
      request.header("Authorization", "Bearer " + token);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  /**
   * Tokens per kind. Valid ones are many and distinct (a {@code jti} each), so that the verifier's
   * token cache sees misses as well as hits.
   */
  private static Map<Kind, List<String>> tokens(TestIssuer issuer, String audience)
      throws Exception {
    List<String> valid = new ArrayList<>();
    List<String> byId = new ArrayList<>();
    List<String> strangers = new ArrayList<>();
    List<String> expired = new ArrayList<>();
    List<String> forged = new ArrayList<>();
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    PrivateKey otherKey = generator.generateKeyPair().getPrivate();
    Instant now = Instant.now();
    for (int i = 0; i < 200; i++) {
      valid.add(issuer.token().email(ALICE).audience(audience).claim("jti", "v" + i).build());
    }
    for (int i = 0; i < 20; i++) {
      byId.add(
          issuer
              .token()
              .email(ID_ONLY)
              .withoutEmail()
              .audience(audience)
              .claim("jti", "u" + i)
              .build());
      strangers.add(
          issuer.token().email(STRANGER).audience(audience).claim("jti", "s" + i).build());
      expired.add(
          issuer
              .token()
              .email(ALICE)
              .audience(audience)
              .issuedAt(now.minus(Duration.ofHours(3)))
              .expiresAt(now.minus(Duration.ofHours(2)).minusSeconds(i))
              .build());
      // A valid signature by a key the issuer does not publish, under the issuer's kid.
      forged.add(
          issuer
              .token()
              .email(ALICE)
              .audience(audience)
              .claim("jti", "f" + i)
              .signWith(otherKey)
              .build());
    }
    String good = valid.get(0);
    String payloadSwapped =
        good.substring(0, good.indexOf('.') + 1)
            + Base64.getUrlEncoder()
                .withoutPadding()
                .encodeToString(
                    ("{\"iss\":\""
                            + issuer.issuer()
                            + "\",\"aud\":\""
                            + audience
                            + "\",\"sub\":\"1\",\"email\":\""
                            + ALICE
                            + "\",\"email_verified\":true,\"iat\":"
                            + now.getEpochSecond()
                            + ",\"exp\":"
                            + now.plusSeconds(3600).getEpochSecond()
                            + "}")
                        .getBytes(StandardCharsets.UTF_8))
            + good.substring(good.lastIndexOf('.'));
    forged.add(payloadSwapped);
    List<String> malformed =
        List.of(
            "abc",
            "a.b.c",
            good + "=",
            good.substring(0, good.length() - 7),
            "..",
            "e30.e30.e30",
            "x".repeat(7_000));
    String noneToken = issuer.token().email(ALICE).audience(audience).header("alg", "none").build();
    List<String> algNone = List.of(noneToken.substring(0, noneToken.lastIndexOf('.') + 1));
    return Map.of(
        Kind.VALID, valid,
        Kind.VALID_BY_UNIQUE_ID, byId,
        Kind.STRANGER, strangers,
        Kind.EXPIRED, expired,
        Kind.FORGED, forged,
        Kind.MALFORMED, malformed,
        Kind.ALG_NONE, algNone,
        Kind.NO_CREDENTIALS, List.of(""));
  }

  /**
   * The child's used heap, in bytes, right after a full GC: {@code jcmd GC.run} then {@code jcmd
   * GC.heap_info}, summing the {@code used} of each generation it prints.
   */
  static long usedHeapAfterFullGc(long pid) throws Exception {
    jcmd(pid, "GC.run");
    String info = jcmd(pid, "GC.heap_info");
    Matcher used = Pattern.compile("total \\d+K, used (\\d+)K").matcher(info);
    long usedKib = 0;
    int generations = 0;
    while (used.find()) {
      usedKib += Long.parseLong(used.group(1));
      generations++;
    }
    if (generations == 0) {
      throw new IllegalStateException("no heap reading in jcmd output:\n" + info);
    }
    return usedKib * 1024;
  }

  private static String jcmd(long pid, String command) throws Exception {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process process =
        new ProcessBuilder(jcmd.toString(), Long.toString(pid), command)
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.waitFor() != 0) {
      throw new IllegalStateException("jcmd " + command + " failed:\n" + output);
    }
    return output;
  }
}
