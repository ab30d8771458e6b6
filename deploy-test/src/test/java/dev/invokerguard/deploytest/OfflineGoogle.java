package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertWithMessage;

import dev.invokerguard.standin.DeployedFunction;
import dev.invokerguard.standin.FrontEndMode;
import dev.invokerguard.standin.Gcloud;
import dev.invokerguard.standin.GoogleStandIn;
import dev.invokerguard.testing.TestIssuer;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * Google on this machine, as every test of the real {@code gcloud} starts it: a {@link TestIssuer}
 * (Google's signer), the {@link GoogleStandIn} for one host project, client projects in its IAM
 * API, and the real CLI activated as one account against it (loopback only: {@link Gcloud}).
 *
 * <p>{@link #start} skips the calling test with a JUnit assumption when gcloud is not on the PATH
 * (Debian 13 images lack it), and fails when {@code jq} is missing (the scripts need it; {@code
 * .ci/run} installs it). {@link #close()} writes the stand-in's request log, when a name was given,
 * and stops the stand-in (with every function it runs) and the issuer.
 */
final class OfflineGoogle implements AutoCloseable {
  /** How long one run of a script may take on a busy two-core machine. */
  static final Duration SCRIPT_TIMEOUT = Duration.ofMinutes(4);

  /**
   * The system property that picks the front end's mode for every journey that does not pick one
   * itself ({@code -Dinvokerguard.frontEndMode=STRIP_JUDGED}; default {@link
   * FrontEndMode#STRIP_SERVERLESS_ONLY}), so that the journeys can be run in each mode unchanged.
   */
  static final String FRONT_END_MODE_PROPERTY = "invokerguard.frontEndMode";

  private final TestIssuer issuer;
  private final GoogleStandIn google;
  private final Gcloud gcloud;
  private final Optional<String> requestLog;
  private final HttpClient http = HttpClient.newHttpClient();

  private OfflineGoogle(
      TestIssuer issuer, GoogleStandIn google, Gcloud gcloud, Optional<String> requestLog) {
    this.issuer = issuer;
    this.google = google;
    this.gcloud = gcloud;
    this.requestLog = requestLog;
  }

  /**
   * Starts the issuer and the stand-in for {@code project} in {@code dir}, adds {@code
   * clientProjects} to its IAM API and activates gcloud as {@code account}.
   *
   * @param requestLog the name of the request log {@link #close()} writes under {@code target/}
   *     (for example {@code journey-DeployScriptJourneyIT.log}), or empty for none
   */
  static OfflineGoogle start(
      Path dir,
      String project,
      String account,
      Optional<String> requestLog,
      String... clientProjects)
      throws Exception {
    return start(dir, defaultFrontEndMode(), project, account, requestLog, clientProjects);
  }

  /** The mode {@link #FRONT_END_MODE_PROPERTY} names, {@code STRIP_SERVERLESS_ONLY} without it. */
  static FrontEndMode defaultFrontEndMode() {
    String name = System.getProperty(FRONT_END_MODE_PROPERTY, "").strip();
    return name.isEmpty() ? FrontEndMode.STRIP_SERVERLESS_ONLY : FrontEndMode.valueOf(name);
  }

  /**
   * As {@link #start(Path, String, String, Optional, String...)}, the front end in {@code mode}.
   */
  static OfflineGoogle start(
      Path dir,
      FrontEndMode mode,
      String project,
      String account,
      Optional<String> requestLog,
      String... clientProjects)
      throws Exception {
    Assumptions.assumeTrue(
        Gcloud.find().isPresent(),
        "gcloud is not on PATH: this test needs the real Google Cloud CLI (see deploy-test/README.md)");
    Tools.requireInstalled("jq");
    TestIssuer issuer = TestIssuer.start();
    GoogleStandIn google = null;
    try {
      google =
          GoogleStandIn.builder()
              .issuer(issuer)
              .project(project)
              .workDir(dir.resolve("google"))
              .frontEndMode(mode)
              .start();
      for (String client : clientProjects) {
        google.iam().addProject(client);
      }
      Gcloud gcloud = Gcloud.activate(dir.resolve("gcloud"), google, account);
      return new OfflineGoogle(issuer, google, gcloud, requestLog);
    } catch (Exception | Error e) {
      if (google != null) {
        google.close();
      }
      issuer.close();
      throw e;
    }
  }

  TestIssuer issuer() {
    return issuer;
  }

  GoogleStandIn google() {
    return google;
  }

  Gcloud gcloud() {
    return gcloud;
  }

  /**
   * Runs {@code ./deploy.sh --project PROJECT --region REGION [--name NAME] ARGS} with the real
   * gcloud; {@code --name NAME} is added unless {@code args} name a function themselves.
   */
  Gcloud.Result deploy(
      String project, String region, String name, Map<String, String> env, String... args)
      throws Exception {
    List<String> command = new ArrayList<>();
    command.add("bash");
    command.add(Tools.repositoryRoot().resolve("deploy.sh").toString());
    command.addAll(List.of("--project", project, "--region", region));
    command.addAll(List.of(args));
    if (!command.contains("--name")) {
      command.addAll(List.of("--name", name));
    }
    return gcloud.run(command, env, SCRIPT_TIMEOUT);
  }

  /**
   * {@code gcloud functions add|remove-invoker-policy-binding NAME --gen2 --member=MEMBER}: a
   * change made by hand, behind deploy.sh's back.
   */
  Gcloud.Result invokerBinding(
      String project, String region, String name, String verb, String member) throws Exception {
    return gcloud.gcloud(
        "functions",
        verb + "-invoker-policy-binding",
        name,
        "--region=" + region,
        "--project=" + project,
        "--gen2",
        "--member=" + member,
        "--quiet");
  }

  /** A request to the function through its front end (Google's side), with {@code token}. */
  HttpResponse<String> call(DeployedFunction function, String token) throws Exception {
    return call(function, Map.of("Authorization", "Bearer " + token));
  }

  /** A request to the function through its front end with exactly {@code headers}. */
  HttpResponse<String> call(DeployedFunction function, Map<String, String> headers)
      throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(function.frontEnd()).timeout(Duration.ofSeconds(60));
    headers.forEach(request::header);
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Fails unless {@code result} exited 0, showing it and every request the stand-in received. */
  void ok(Gcloud.Result result) {
    assertWithMessage("%s\n--- stand-in requests\n%s", result, google.requests())
        .that(result.exitCode())
        .isEqualTo(0);
  }

  /**
   * Fails on any request the stand-in did not know, and on any whose {@code Host} was neither the
   * stand-in's own address nor the regional host gcloud derives from it for {@code region}: every
   * request stayed on loopback.
   */
  void assertOnlyKnownLoopbackRequests(String region) {
    google.assertNoUnexpectedRequests();
    String own = "127.0.0.1:" + google.uri().getPort();
    for (GoogleStandIn.Request r : google.requests()) {
      assertWithMessage("Host of %s", r).that(r.host()).isAnyOf(own, region + "-" + own);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      if (requestLog.isPresent()) {
        // What the CLI sent, for whoever reads a failure or wonders what gcloud calls.
        google.writeRequestLog(Path.of("target", requestLog.get()));
      }
    } finally {
      google.close();
      issuer.close();
    }
  }
}
