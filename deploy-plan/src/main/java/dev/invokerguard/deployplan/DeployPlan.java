package dev.invokerguard.deployplan;

import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * deploy.sh's planner: {@code java -jar deploy-plan.jar STEP [deploy.sh's arguments]}, with what
 * gcloud read so far as one JSON object on stdin ({@link Facts}). It decides; deploy.sh acts. Each
 * step re-reads the arguments, the environment and the env file, so that every step judges the same
 * settings. The output is {@link Plan}'s lines; exit 2 is bad input or an unmet prerequisite
 * (nothing was changed), exit 1 a fact that cannot be trusted, each with one line on stderr.
 *
 * <ul>
 *   <li>{@code settings}: the settings deploy.sh needs to act, and the reads to make ({@link
 *       Reads}): the project number and the service accounts, the function, the monitoring
 *       resources (or the usage, after a line {@code HELP}).
 *   <li>{@code source}: the default artifact checked after its build.
 *   <li>{@code callers}: the service-account reads judged: an ID whose email cannot be read is
 *       refused, an email left unpinned is a warning.
 *   <li>{@code deploy}: the generation check, the URL, the deploy call (an action, {@code DEPLOY};
 *       trust mode only behind an invoker IAM check read on, {@code service}) and the reads of the
 *       IAM policy and the Cloud Run service, for the function as described in {@code function};
 *       after this run's deploy ({@code deployed}: the call that went out), {@code REDEPLOY=true}
 *       when the call now differs (a URL known only now, trust mode behind the check).
 *   <li>{@code audiences}: the custom audiences missing on the Cloud Run service ({@code service}:
 *       what describe printed, absent when the read failed).
 *   <li>{@code invoker-check}: on 2nd gen, the invoker IAM check of the service ({@code service})
 *       switched on when off ({@link InvokerCheck}).
 *   <li>{@code trust}: whether {@code TRUST_PLATFORM_VERIFIED_TOKENS=true} may go out, said (a
 *       refusal before the deploy, a failure after it); {@code deployed}: true once deployed.
 *   <li>{@code iam-before}: the public members the policy held before this run's deploy.
 *   <li>{@code iam}: the invoker IAM convergence ({@code policy}: what get-iam-policy printed).
 *   <li>{@code summary}: the function, its URL, audiences and allowlist, and how to call it.
 *   <li>{@code smoke}: one attempt of the smoke test judged ({@link Smoke}).
 *   <li>{@code monitoring}: the metrics, alert policies and dashboard to create or update ({@code
 *       metrics}: each name to what describe printed or null; {@code policies}, {@code dashboards}:
 *       what the list commands printed).
 * </ul>
 */
public final class DeployPlan {
  private DeployPlan() {}

  /** Runs one step; see the class comment. */
  public static void main(String[] args) throws IOException {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    int status = run(List.of(args), System.getenv(), System.in, out, System.err);
    out.flush();
    System.exit(status);
  }

  /** One step: its output on {@code out}, an error line on {@code err}; returns the exit code. */
  static int run(
      List<String> args,
      Map<String, String> env,
      InputStream stdin,
      PrintStream out,
      PrintStream err) {
    if (args.isEmpty()) {
      err.println("deploy-plan: usage: java -jar deploy-plan.jar STEP [deploy.sh arguments]");
      return 2;
    }
    try {
      String step = args.get(0);
      Optional<Options> options = Options.read(args.subList(1, args.size()), env);
      if (options.isEmpty()) {
        out.println("HELP");
        out.print(usage());
        return 0;
      }
      Facts facts = step.equals("settings") ? Facts.parse("") : Facts.parse(read(stdin));
      Plan plan = plan(step, options.get(), facts);
      plan.lines().forEach(out::println);
      return 0;
    } catch (UsageError e) {
      err.println("deploy.sh: error: " + e.getMessage());
      return 2;
    } catch (IllegalStateException e) {
      err.println("deploy.sh: error: " + e.getMessage());
      return 1;
    }
  }

  /** The plan of one step. */
  static Plan plan(String step, Options options, Facts facts) {
    return switch (step) {
      case "settings" -> settings(options);
      case "callers" -> callers(options, facts);
      case "deploy" -> deploy(options, facts);
      case "source" -> {
        // After the build of the default artifact: it must now hold exactly one jar.
        Options.require(
            Options.sourceKind(options.sourcePath(), false).equals("dir"),
            "the build left no directory '" + options.sourcePath() + "'");
        yield new Plan();
      }
      case "audiences" ->
          ServiceAudiences.plan(options, service(options, facts), facts.string("service"));
      case "monitoring" ->
          new Monitoring(options)
              .plan(
                  facts.object("metrics").orElse(null),
                  facts.string("policies").orElse(""),
                  facts.string("dashboards").orElse(""));
      case "summary" -> summary(options, facts);
      case "smoke" ->
          Smoke.attempt(
              options,
              new Deployment(options, facts.projectNumber(), facts.function()).url(),
              facts);
      case "invoker-check" -> InvokerCheck.converge(options, service(options, facts), facts);
      case "trust" -> InvokerCheck.trust(options, service(options, facts), facts);
      case "iam-before" -> new Iam(options, policy(facts), service(options, facts)).before();
      case "iam" ->
          new Iam(options, policy(facts), service(options, facts))
              .converge(Callers.of(options, facts.object("serviceAccounts").orElse(null)));
      default -> throw new UsageError("unknown planner step '" + step + "'");
    };
  }

  private static Plan settings(Options options) {
    Plan plan = new Plan();
    plan.set("PROJECT", options.project)
        .set("REGION", options.region)
        .set("NAME", options.name)
        .set("DRY_RUN", Boolean.toString(options.dryRun))
        .set("SOURCE", options.sourcePath().toString())
        .set("SOURCE_KIND", Options.sourceKind(options.sourcePath(), options.source.isEmpty()))
        .set("SMOKE_SA", options.smokeServiceAccount)
        .set("SMOKE_TIMEOUT", Integer.toString(options.smokeTimeout))
        .set("SMOKE_URL_OVERRIDE", options.smokeUrlOverride)
        .set("MONITORING", Boolean.toString(options.monitoring))
        .set("MONITORING_ONLY", Boolean.toString(options.monitoringOnly))
        .set(
            "READ_FUNCTION",
            Reads.read("function", null, Deployment.describeCall(options), Reads.NOT_FOUND_ONLY));
    if (!options.monitoringOnly) {
      if (!options.gen1) {
        // The project's number, for the deterministic run.app URL.
        plan.add(
            "READS",
            Reads.read(
                "projectNumber",
                null,
                List.of("projects", "describe", options.project, "--format=value(projectNumber)"),
                null));
      }
      plan.addAll("READS", Callers.reads(options));
    }
    if (options.monitoring) {
      plan.addAll("READS_MONITORING", new Monitoring(options).reads());
    }
    return plan;
  }

  private static Plan callers(Options options, Facts facts) {
    Callers callers = Callers.of(options, facts.object("serviceAccounts").orElse(null));
    Plan plan = new Plan();
    callers.warnings().forEach(plan::warn);
    return plan;
  }

  private static Plan deploy(Options options, Facts facts) {
    Deployment deployment = new Deployment(options, facts.projectNumber(), facts.function());
    deployment.checkGeneration();
    if (options.monitoringOnly) {
      // Nothing is deployed: the function was read for its generation only, and need not exist
      // yet (the metrics then count nothing until it does).
      Plan plan = new Plan();
      if (facts.function().isEmpty()) {
        plan.warn(
            "function "
                + options.name
                + " does not exist (yet) in "
                + options.region
                + ": the metrics count nothing until it is deployed");
      }
      return plan;
    }
    Callers callers = Callers.of(options, facts.object("serviceAccounts").orElse(null));
    List<String> audiences = deployment.audiences();
    Map<String, String> vars = deployment.environment(callers, audiences);
    InvokerCheck.gateTrust(options, facts, vars);
    List<String> serviceRead = ServiceAudiences.read(options, deployment.service());
    List<String> call = deployment.deployCall(facts.string("sourceDir").orElse(""), vars);
    Optional<String> redeploy = deployment.redeploy(facts.get("deployed"), vars);
    Plan plan = new Plan();
    return plan.set("EXISTS", Boolean.toString(facts.function().isPresent()))
        .set("URL", deployment.url())
        .set(
            "READ_POLICY",
            Reads.read("policy", null, Iam.policyRead(options, deployment.service()), null))
        .set(
            "READ_SERVICE",
            serviceRead.isEmpty()
                ? ""
                : Reads.read("service", null, serviceRead, Reads.ANY_FAILURE))
        .set("REDEPLOY", Boolean.toString(redeploy.isPresent()))
        .set(
            "DEPLOY",
            Plan.actionJson(
                redeploy.orElse(
                    "Deploying "
                        + options.name
                        + " ("
                        + (options.gen1 ? "1st gen" : "2nd gen")
                        + ") to "
                        + options.region
                        + " in "
                        + options.project),
                call,
                "gcloud functions deploy " + options.name,
                null,
                null,
                null));
  }

  private static Plan summary(Options options, Facts facts) {
    Deployment deployment = new Deployment(options, facts.projectNumber(), facts.function());
    return Summary.plan(
        options,
        deployment.url(),
        deployment.audiences(),
        Callers.of(options, facts.object("serviceAccounts").orElse(null)));
  }

  /** The Cloud Run service of the function as described in the facts. */
  private static String service(Options options, Facts facts) {
    return new Deployment(options, "", facts.function()).service();
  }

  /** The IAM policy as gcloud printed it: a fact that must parse, or the plan fails closed. */
  private static JsonElement policy(Facts facts) {
    try {
      return JsonParser.parseString(facts.string("policy").orElse(""));
    } catch (JsonParseException e) {
      throw new IllegalStateException("the IAM policy is not valid JSON");
    }
  }

  static String usage() {
    try (InputStream in = DeployPlan.class.getResourceAsStream("usage.txt")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("usage text missing", e);
    }
  }

  private static String read(InputStream stdin) {
    try {
      return new String(stdin.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the facts on stdin");
    }
  }
}
