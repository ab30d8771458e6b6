package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.ChildJvm;
import dev.invokerguard.testing.TestIssuer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every log filter deploy.sh --monitoring sets up, checked against the guard's own lines: the real
 * sample function ({@code function/target/deploy/function.jar}) in the real Functions Framework
 * invoker answers allowed and denied calls and, with its key endpoint failing, 503
 * KEYS_UNAVAILABLE; its stdout lines become Cloud Logging entries of this function and of another
 * one, on both generations' resources ({@link LogEntries}); each filter from deploy.sh's dry-run
 * output ({@link DryRunConfigs}, against the recording fake gcloud) is evaluated with {@link
 * LoggingFilter} and must match exactly the entries the contract says, and at least one. A third
 * run takes a key set through its life (loaded, a failed fetch, stale keys in use, recovered), so
 * the key-health filters too are checked against the guard's own lines.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MonitoringFiltersIT {
  private static final String PROJECT = "host-proj";
  private static final String REGION = "europe-west1";
  private static final String NAME = "invoker-guard";
  private static final String OTHER = "another-function";
  private static final String ALICE = "alice@client-one.iam.gserviceaccount.com";
  private static final String BOB = "bob@client-two.iam.gserviceaccount.com";
  private static final String TARGET = "dev.invokerguard.function.ProtectedFunction";
  private static final Duration DEADLINE = Duration.ofSeconds(60);

  @TempDir Path temp;
  private final HttpClient http = HttpClient.newHttpClient();
  private final List<String> lines = new ArrayList<>();

  @BeforeAll
  void produceRealLines() throws Exception {
    Path jar = Tools.repositoryRoot().resolve("function/target/deploy/function.jar");
    assertWithMessage("the sample function's jar (built by the reactor: -am)")
        .that(Files.isRegularFile(jar))
        .isTrue();
    List<String> stdout = new ArrayList<>();
    try (TestIssuer issuer = TestIssuer.start()) {
      // Keys served: allowed, and denied for each kind of caller the guard sees.
      stdout.addAll(
          run(
              jar,
              issuer,
              Map.of(),
              (audience, call) -> {
                call.accept(issuer.mint(ALICE, audience), 200);
                call.accept(issuer.mint(BOB, audience), 403);
                call.accept(null, 401);
                call.accept(issuer.mint(ALICE, "https://somewhere.else.example"), 401);
              },
              out -> true));
      // The key endpoint failing from the start: 503 KEYS_UNAVAILABLE.
      issuer.jwks().respondWith(500, "{\"error\":\"backend\"}");
      stdout.addAll(
          run(
              jar,
              issuer,
              Map.of(),
              (audience, call) -> call.accept(issuer.mint(ALICE, audience), 503),
              out -> true));
    }
    // A key set's life with traffic: loaded, the endpoint failing while keys are in use (a
    // failed fetch, then the keys past their expiry), and back. max-age=1 and a refetch interval
    // of 1 s make the function refetch about once a second while requests come.
    try (TestIssuer issuer = TestIssuer.builder().maxAgeSeconds(1).start()) {
      stdout.addAll(
          run(
              jar,
              issuer,
              Map.of("KEY_REFETCH_INTERVAL_SECONDS", "1"),
              (audience, call) -> {
                String token = issuer.mint(ALICE, audience);
                call.accept(token, 200);
                issuer.jwks().respondWith(503, "");
                int before = issuer.jwks().requestCount();
                Instant deadline = Instant.now().plus(DEADLINE);
                while (issuer.jwks().requestCount() < before + 2
                    && Instant.now().isBefore(deadline)) {
                  call.accept(token, 200); // stale keys still in use: allowed
                }
                issuer.jwks().respondNormally();
                int failed = issuer.jwks().requestCount();
                while (issuer.jwks().requestCount() <= failed && Instant.now().isBefore(deadline)) {
                  call.accept(token, 200);
                }
              },
              out -> out.contains("\"keyHealth\":\"RECOVERED\"")));
    }
    lines.addAll(stdout.stream().filter(l -> l.contains("\"decision\"")).toList());
    List<String> keyHealth = stdout.stream().filter(l -> l.contains("\"keyHealth\"")).toList();
    assertWithMessage("the key health states the guard wrote\n%s", String.join("\n", stdout))
        .that(keyHealth.stream().map(l -> field(l, "keyHealth")).distinct().toList())
        .containsAtLeast("LOADED", "FETCH_FAILED", "STALE_IN_USE", "UNUSABLE", "RECOVERED");
    lines.addAll(keyHealth);
  }

  private static String field(String line, String name) {
    return JsonParser.parseString(line).getAsJsonObject().get(name).getAsString();
  }

  private interface Calls {
    void make(String audience, Call call) throws Exception;
  }

  private interface Call {
    void accept(String token, int expectedStatus) throws Exception;
  }

  /**
   * Runs the function with the given extra environment, makes the calls, and returns its stdout
   * lines once every decision was logged and {@code awaited} holds for the whole stdout.
   */
  private List<String> run(
      Path jar,
      TestIssuer issuer,
      Map<String, String> extraEnv,
      Calls calls,
      Predicate<String> awaited)
      throws Exception {
    Map<String, String> env =
        new HashMap<>(
            Map.of(
                "ALLOWED_INVOKERS",
                ALICE,
                "JWKS_URL",
                issuer.jwksUri().toString(),
                "TOKEN_ISSUERS",
                issuer.issuer(),
                "KEY_FETCH_TIMEOUT_SECONDS",
                "1"));
    env.putAll(extraEnv);
    int port = ChildJvm.freePort();
    String audience = "http://127.0.0.1:" + port;
    env.put("EXPECTED_AUDIENCES", audience);
    try (ChildJvm jvm =
        ChildJvm.functionsInvoker(TARGET, port)
            .args("--classpath", jar.toString())
            .env(env)
            .start()) {
      jvm.awaitPort(port, DEADLINE);
      int[] made = {0};
      calls.make(
          audience,
          (token, expected) -> {
            HttpRequest.Builder request =
                HttpRequest.newBuilder(URI.create(audience + "/")).timeout(Duration.ofSeconds(30));
            if (token != null) {
              request.header("Authorization", "Bearer " + token);
            }
            HttpResponse<String> response =
                http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            assertWithMessage("%s\n%s", response.body(), jvm.stdout())
                .that(response.statusCode())
                .isEqualTo(expected);
            made[0]++;
          });
      // The decision lines are written as the answers go out: wait for all of them.
      Instant deadline = Instant.now().plus(DEADLINE);
      while ((decisionLines(jvm.stdout()) < made[0] || !awaited.test(jvm.stdout()))
          && Instant.now().isBefore(deadline)) {
        jvm.exitedWithin(Duration.ofMillis(50));
      }
      assertWithMessage("decision lines in\n%s", jvm.stdout())
          .that(decisionLines(jvm.stdout()))
          .isEqualTo(made[0]);
      assertWithMessage("awaited line in\n%s", jvm.stdout())
          .that(awaited.test(jvm.stdout()))
          .isTrue();
      return jvm.stdout().lines().toList();
    }
  }

  private static long decisionLines(String stdout) {
    return stdout.lines().filter(l -> l.contains("\"decision\"")).count();
  }

  /** Entries of every line, for this function and another, on both generations' resources. */
  private List<JsonObject> entries() {
    List<JsonObject> entries = new ArrayList<>();
    for (int generation : new int[] {2, 1}) {
      for (String name : List.of(NAME, OTHER)) {
        for (String line : lines) {
          entries.add(LogEntries.entry(line, PROJECT, REGION, name, generation));
        }
      }
    }
    return entries;
  }

  private static JsonObject payload(JsonObject entry) {
    return entry.getAsJsonObject("jsonPayload");
  }

  private static String field(JsonObject entry, String name) {
    JsonElement value = payload(entry).get(name);
    return value == null ? null : value.getAsString();
  }

  private static boolean ours(JsonObject entry, int generation) {
    JsonObject resource = entry.getAsJsonObject("resource");
    JsonObject labels = resource.getAsJsonObject("labels");
    return generation == 2
        ? resource.get("type").getAsString().equals("cloud_run_revision")
            && labels.get("service_name").getAsString().equals(NAME)
        : resource.get("type").getAsString().equals("cloud_function")
            && labels.get("function_name").getAsString().equals(NAME);
  }

  private Map<String, JsonObject> dryRun(int generation) throws Exception {
    return DryRunConfigs.monitoringOnly(
        temp.resolve("gen" + generation), PROJECT, REGION, generation);
  }

  private void assertFilterMatchesExactly(
      String what, String filter, List<JsonObject> entries, Predicate<JsonObject> expected) {
    LoggingFilter parsed = LoggingFilter.parse(filter);
    List<JsonObject> matched = entries.stream().filter(parsed::matches).toList();
    List<JsonObject> wanted = entries.stream().filter(expected).toList();
    assertWithMessage("%s: the filter matches none of the real lines it should\n%s", what, filter)
        .that(wanted)
        .isNotEmpty();
    assertWithMessage("%s\nfilter: %s", what, filter)
        .that(matched)
        .containsExactlyElementsIn(wanted);
  }

  @ParameterizedTest(name = "generation {0}")
  @ValueSource(ints = {2, 1})
  void everyMetricFilter_matchesExactlyItsOwnRealLines(int generation) throws Exception {
    Map<String, JsonObject> configs = dryRun(generation);
    List<JsonObject> entries = entries();
    Map<String, Predicate<JsonObject>> metrics =
        Map.of(
            "allowed", e -> "allow".equals(field(e, "decision")),
            "denied", e -> "deny".equals(field(e, "decision")),
            "key-fetch-failures", e -> "FETCH_FAILED".equals(field(e, "keyHealth")),
            "keys-unavailable",
                e ->
                    "UNUSABLE".equals(field(e, "keyHealth"))
                        || "KEYS_UNAVAILABLE".equals(field(e, "reason")),
            "key-health", e -> field(e, "keyHealth") != null);
    for (Map.Entry<String, Predicate<JsonObject>> metric : metrics.entrySet()) {
      String name = NAME + "-" + metric.getKey();
      JsonObject config =
          DryRunConfigs.find(configs, "gcloud logging metrics create " + name + " ");
      assertFilterMatchesExactly(
          name,
          config.get("filter").getAsString(),
          entries,
          e -> ours(e, generation) && metric.getValue().test(e));
    }

    JsonObject dashboard = DryRunConfigs.find(configs, "gcloud monitoring dashboards create");
    String logsPanel = null;
    for (JsonElement tile : dashboard.getAsJsonObject("mosaicLayout").getAsJsonArray("tiles")) {
      JsonObject widget = tile.getAsJsonObject().getAsJsonObject("widget");
      if (widget.has("logsPanel")) {
        logsPanel = widget.getAsJsonObject("logsPanel").get("filter").getAsString();
      }
    }
    assertWithMessage("the dashboard's logs panel").that(logsPanel).isNotNull();
    assertFilterMatchesExactly(
        "the dashboard's deny and key-health lines",
        logsPanel,
        entries,
        e ->
            ours(e, generation)
                && ("deny".equals(field(e, "decision")) || field(e, "keyHealth") != null));
  }

  @ParameterizedTest(name = "generation {0}")
  @ValueSource(ints = {2, 1})
  void labelExtractors_readReasonAndCaller_fromTheRealLines(int generation) throws Exception {
    Map<String, JsonObject> configs = dryRun(generation);
    List<JsonObject> entries = entries().stream().filter(e -> ours(e, generation)).toList();
    for (String metric : List.of("allowed", "denied")) {
      JsonObject config =
          DryRunConfigs.find(configs, "gcloud logging metrics create " + NAME + "-" + metric + " ");
      JsonObject extractors = config.getAsJsonObject("labelExtractors");
      assertThat(extractors.keySet()).containsExactly("reason", "caller");
      List<String> labels = new ArrayList<>();
      for (JsonElement label :
          config.getAsJsonObject("metricDescriptor").getAsJsonArray("labels")) {
        labels.add(label.getAsJsonObject().get("key").getAsString());
      }
      assertThat(labels).containsExactly("reason", "caller");
      LoggingFilter filter = LoggingFilter.parse(config.get("filter").getAsString());
      List<String> reasons = new ArrayList<>();
      List<String> callers = new ArrayList<>();
      for (JsonObject entry : entries.stream().filter(filter::matches).toList()) {
        Optional<String> reason =
            LoggingFilter.extract(extractors.get("reason").getAsString(), entry);
        assertWithMessage("reason of %s", entry).that(reason).isPresent();
        reasons.add(reason.get());
        LoggingFilter.extract(extractors.get("caller").getAsString(), entry)
            .ifPresent(callers::add);
      }
      if (metric.equals("allowed")) {
        // Many allowed lines (the key set's life makes many calls): one reason, one caller.
        assertThat(reasons.stream().distinct().toList()).containsExactly("ALLOWED");
        assertThat(callers.stream().distinct().toList()).containsExactly(ALICE);
      } else {
        assertThat(reasons).containsAtLeast("CALLER_NOT_ALLOWED", "KEYS_UNAVAILABLE");
        // A verified caller is named; one without a verified token is not.
        assertThat(callers).contains(BOB);
        assertThat(callers.size()).isLessThan(reasons.size());
      }
    }
  }

  /** The lines really are the guard's: parsed, each a decision or a key-health line. */
  @Test
  void lines_areTheGuardsStructuredLines() {
    assertThat(lines).isNotEmpty();
    for (String line : lines) {
      JsonObject json = JsonParser.parseString(line).getAsJsonObject();
      assertWithMessage(line).that(json.has("decision") || json.has("keyHealth")).isTrue();
      assertWithMessage(line).that(json.has("severity")).isTrue();
    }
  }
}
