package dev.invokerguard.deployplan;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Cloud Run's invoker IAM check on the 2nd gen function's service (issue 21 item 3). With it off
 * (annotation {@code run.googleapis.com/invoker-iam-disabled: "true"}, written by {@code gcloud run
 * services update --no-invoker-iam-check}) Google's front end judges nothing and forwards every
 * request: the invoker role then grants nothing and trust mode would accept a token anyone can
 * write. Convergence switches it back on, and {@code TRUST_PLATFORM_VERIFIED_TOKENS=true} goes out
 * only in a deploy that follows a read showing it on.
 *
 * <p>The order, fail closed: the service is read (and repaired) before the deploy; a deploy that
 * cannot show the check on carries {@code TRUST_PLATFORM_VERIFIED_TOKENS=false}. Before the deploy
 * a check still off after its repair stops the run (exit 2, nothing deployed); after the deploy
 * (first deploy, or the check switched off meanwhile) deploy.sh redeploys with trust mode once the
 * check reads on, or with it off and a recorded failure when it does not.
 */
final class InvokerCheck {
  static final String ANNOTATION = "run.googleapis.com/invoker-iam-disabled";

  /** The check as read from the service. */
  enum State {
    ON,
    OFF,
    /** Not read: the service does not exist yet, or its read failed or is unreadable. */
    UNKNOWN
  }

  private InvokerCheck() {}

  /**
   * The check as {@code gcloud run services describe --format=json} printed the service (Knative
   * v1: the annotation; Run v2: {@code invokerIamDisabled}); absent means on, any value other than
   * true or false is taken as off (it is then written back as on).
   */
  static State read(Facts facts) {
    String described = facts.string("service").orElse("");
    if (described.isBlank()) {
      return State.UNKNOWN;
    }
    JsonObject service;
    try {
      JsonElement parsed = JsonParser.parseString(described);
      if (!parsed.isJsonObject()) {
        return State.UNKNOWN;
      }
      service = parsed.getAsJsonObject();
    } catch (JsonParseException e) {
      return State.UNKNOWN;
    }
    String v1 =
        Deployment.text(service, "metadata", "annotations", ANNOTATION)
            .orElse("false")
            .toLowerCase(Locale.ROOT);
    String v2 = Deployment.text(service, "invokerIamDisabled").orElse("false");
    return v1.equals("false") && v2.equalsIgnoreCase("false") ? State.ON : State.OFF;
  }

  /**
   * Whether the service was read after this run's deploy ({@code deployed} in the facts: the deploy
   * call that went out, or true when it failed).
   */
  static boolean deployed(Facts facts) {
    return facts
        .get("deployed")
        .map(value -> value.isJsonObject() || (value.isJsonPrimitive() && value.getAsBoolean()))
        .orElse(false);
  }

  /**
   * The step {@code invoker-check}: when the check is off, a loud warning and the call that
   * switches it on; sets {@code INVOKER_REPAIR} (whether the service is to be read again after the
   * call: not in a dry run, which makes none).
   */
  static Plan converge(Options options, String service, Facts facts) {
    Plan plan = new Plan();
    State state = read(facts);
    if (state == State.UNKNOWN) {
      plan.warn(
          "could not read the invoker IAM check of Cloud Run service "
              + service
              + "; it is read again after the deploy");
      return plan.set("INVOKER_REPAIR", "false");
    }
    if (state == State.ON) {
      plan.info("Invoker IAM check on service " + service + ": on.");
      return plan.set("INVOKER_REPAIR", "false");
    }
    plan.warn(
        "PUBLIC ACCESS: the invoker IAM check of Cloud Run service "
            + service
            + " is off: Google's front end forwards every request unjudged, the invoker role"
            + " grants nothing (the guard still checks every call); switching it on");
    List<String> update = new ArrayList<>(List.of("run", "services", "update", service));
    update.addAll(Gcloud.common(options));
    update.add("--invoker-iam-check");
    update.add("--quiet");
    return plan.action(
            "Switching the invoker IAM check on for service " + service,
            update,
            "switching the invoker IAM check on for service " + service,
            null)
        .set("INVOKER_REPAIR", Boolean.toString(!options.dryRun));
  }

  /**
   * Whether this deploy may carry {@code TRUST_PLATFORM_VERIFIED_TOKENS=true}: only when requested
   * and the check reads on (in a dry run, off counts as on: the repair is shown, not made). When
   * not, the value in {@code vars} becomes false.
   */
  static boolean gateTrust(Options options, Facts facts, Map<String, String> vars) {
    if (!"true".equalsIgnoreCase(vars.get(Options.TRUST))) {
      return false;
    }
    State state = read(facts);
    if (state == State.ON || (state == State.OFF && options.dryRun)) {
      return true;
    }
    vars.put(Options.TRUST, "false");
    return false;
  }

  /**
   * The step {@code trust}, after {@link #converge} and its repair: what the gate decided, said.
   * Before the deploy a check still off is a refusal; after it a recorded failure ({@code
   * FAILURES}).
   *
   * @throws UsageError when trust mode is requested, the check is off and nothing is deployed yet
   */
  static Plan trust(Options options, String service, Facts facts) {
    Plan plan = new Plan();
    if (!"true".equalsIgnoreCase(options.guard.get(Options.TRUST))) {
      return plan;
    }
    State state = read(facts);
    boolean deployed = deployed(facts);
    String check = "the invoker IAM check of Cloud Run service " + service;
    if (state == State.ON) {
      return plan.info(Options.TRUST + "=true: " + check + " is on.");
    }
    if (state == State.OFF && options.dryRun) {
      return plan.info(
          Options.TRUST + "=true: shown as it would be deployed once " + check + " is on.");
    }
    if (state == State.OFF && !deployed) {
      throw new UsageError(
          "refusing "
              + Options.TRUST
              + "=true: "
              + check
              + " is still off after the attempt to switch it on, and with it off anyone's"
              + " made-up token would pass; nothing was deployed. Switch it on (gcloud run services"
              + " update "
              + service
              + " --invoker-iam-check) or leave trust mode off (SECURITY.md)");
    }
    if (!deployed) {
      return plan.info(
          Options.TRUST
              + "=true waits until "
              + check
              + " reads on: deployed as false first, then redeployed with it.");
    }
    String failure =
        Options.TRUST
            + "=true not deployed: "
            + check
            + (state == State.OFF ? " is off" : " could not be read")
            + " (the guard keeps it false; rerun once the check is on)";
    return plan.warn(failure).add("FAILURES", failure);
  }
}
