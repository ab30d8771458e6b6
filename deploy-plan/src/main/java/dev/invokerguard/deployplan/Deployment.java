package dev.invokerguard.deployplan;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.invokerguard.guard.GuardConfig;
import dev.invokerguard.guard.InvalidConfigurationException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The deploy of the function as described (or not yet existing): its generation checked, every
 * audience a token for it may carry, the environment update and the {@code gcloud functions deploy}
 * call.
 */
final class Deployment {
  /**
   * gcloud splits --set-env-vars on commas unless an alternate delimiter is declared with ^DELIM^
   * (gcloud topic escaping). Emails contain '@' and URLs contain ':', so neither can be the
   * delimiter; '|' can appear in no validated email or URL, and any value holding it is refused.
   */
  static final String ENV_DELIMITER = "|";

  private static final Pattern RUN_APP_URL =
      Pattern.compile("https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?\\.run\\.app");
  private static final Pattern FUNCTIONS_URL =
      Pattern.compile("https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?\\.cloudfunctions\\.net/[a-z0-9_-]+");

  private final Options options;
  private final String projectNumber;
  private final Optional<JsonObject> function;

  Deployment(Options options, String projectNumber, Optional<JsonObject> function) {
    this.options = options;
    this.projectNumber = projectNumber == null ? "" : projectNumber;
    this.function = function;
  }

  /**
   * An existing function of the other generation is not replaced: stop before any change.
   *
   * @throws UsageError when it exists as the other generation
   */
  void checkGeneration() {
    int existing = function.map(Deployment::generationOf).orElse(0);
    if (existing == 1 && options.generation() == 2) {
      throw new UsageError(
          "function "
              + options.name
              + " exists as 1st gen: rerun with --gen1 (or delete it first)");
    }
    if (existing == 2 && options.generation() == 1) {
      throw new UsageError(
          "function "
              + options.name
              + " exists as 2nd gen: rerun without --gen1 (or delete it first)");
    }
  }

  /** 1 or 2 by the described function's shape, 0 when it does not say. */
  static int generationOf(JsonObject function) {
    String environment = text(function, "environment").orElse("");
    if (environment.equals("GEN_2") || function.has("serviceConfig")) {
      return 2;
    }
    if (environment.equals("GEN_1") || function.has("httpsTrigger")) {
      return 1;
    }
    return 0;
  }

  /** The deterministic run.app URL of a 2nd gen function, known before its first deploy. */
  String deterministicUrl() {
    return "https://" + options.name + "-" + projectNumber + "." + options.region + ".run.app";
  }

  /**
   * Every audience a token for the function may carry and Google accepts: its URLs (for 2nd gen the
   * deterministic run.app URL and serviceConfig.uri, last), then the custom audiences.
   *
   * @throws IllegalStateException on a URL of an unexpected shape (fail closed)
   */
  List<String> audiences() {
    Set<String> audiences = new LinkedHashSet<>();
    audiences.add(options.functionsUrl());
    if (options.generation() == 2) {
      audiences.add(deterministicUrl());
      Optional<String> uri = function.flatMap(f -> text(f, "serviceConfig", "uri"));
      if (uri.isPresent() && !uri.get().equals(deterministicUrl())) {
        if (!RUN_APP_URL.matcher(uri.get()).matches()) {
          throw new IllegalStateException("unexpected serviceConfig.uri '" + uri.get() + "'");
        }
        audiences.add(uri.get());
      }
    } else {
      // v1 API shape (httpsTrigger.url), or v2 API shape (url) for a 1st gen function.
      Optional<String> url =
          function.flatMap(f -> text(f, "httpsTrigger", "url").or(() -> text(f, "url")));
      if (url.isPresent() && !url.get().equals(options.functionsUrl())) {
        if (!FUNCTIONS_URL.matcher(url.get()).matches()) {
          throw new IllegalStateException("unexpected httpsTrigger.url '" + url.get() + "'");
        }
        audiences.add(url.get());
      }
    }
    audiences.addAll(options.customAudiences);
    return List.copyOf(audiences);
  }

  /** The URL to call: serviceConfig.uri for 2nd gen, the cloudfunctions.net URL for 1st gen. */
  String url() {
    if (options.generation() == 1) {
      return options.functionsUrl();
    }
    return function.flatMap(f -> text(f, "serviceConfig", "uri")).orElse(deterministicUrl());
  }

  /** The Cloud Run service behind the 2nd gen function. */
  String service() {
    String service = function.flatMap(f -> text(f, "serviceConfig", "service")).orElse("");
    service = service.substring(service.lastIndexOf('/') + 1);
    return service.isEmpty() ? options.name : service;
  }

  /**
   * The variables deploy.sh owns, in a stable order: the allowlist, the audiences, the project, the
   * generation, and the guard settings given. Every other variable is left as it is. The guard's
   * own configuration reader must accept them, as the deployed function will read them.
   *
   * @throws UsageError when a value holds the delimiter or the guard would refuse the values
   */
  Map<String, String> environment(Callers callers, List<String> audiences) {
    Map<String, String> vars = new LinkedHashMap<>();
    vars.put(GuardConfig.ALLOWED_INVOKERS, String.join(",", callers.invokers()));
    vars.put(GuardConfig.EXPECTED_AUDIENCES, String.join(",", audiences));
    vars.put("GOOGLE_CLOUD_PROJECT", options.project);
    vars.put(GuardConfig.FUNCTION_GENERATION, "gen" + options.generation());
    vars.putAll(options.guard);
    for (Map.Entry<String, String> var : vars.entrySet()) {
      Options.require(
          !var.getValue().contains(ENV_DELIMITER),
          "a value contains the env delimiter '" + ENV_DELIMITER + "'");
    }
    Map<String, String> asDeployed = new LinkedHashMap<>(vars);
    asDeployed.put(GuardConfig.K_SERVICE, options.name);
    try {
      GuardConfig.fromEnvironment(asDeployed);
    } catch (InvalidConfigurationException e) {
      throw new UsageError("the guard would refuse this configuration: " + e.getMessage());
    }
    return vars;
  }

  /** The {@code --update-env-vars} value, with gcloud's alternate delimiter. */
  static String updateEnvVars(Map<String, String> vars) {
    List<String> pairs = new ArrayList<>();
    vars.forEach((name, value) -> pairs.add(name + "=" + value));
    return "^" + ENV_DELIMITER + "^" + String.join(ENV_DELIMITER, pairs);
  }

  /** The read of the function: {@code gcloud functions describe}, as JSON. */
  static List<String> describeCall(Options options) {
    List<String> call = new ArrayList<>(List.of("functions", "describe", options.name));
    call.addAll(Gcloud.common(options));
    call.add("--format=json");
    return call;
  }

  /** The {@code gcloud functions deploy} call for the given source directory. */
  List<String> deployCall(String sourceDir, Map<String, String> vars) {
    List<String> call = new ArrayList<>(List.of("functions", "deploy", options.name));
    call.addAll(Gcloud.common(options));
    call.add(Gcloud.generationFlag(options));
    call.addAll(
        List.of(
            "--trigger-http",
            "--no-allow-unauthenticated",
            "--runtime=" + options.runtime,
            "--entry-point=" + options.entryPoint,
            "--source=" + sourceDir,
            "--update-env-vars=" + updateEnvVars(vars)));
    if (!options.runtimeServiceAccount.isEmpty()) {
      call.add("--service-account=" + options.runtimeServiceAccount);
    }
    call.add("--quiet");
    return call;
  }

  /**
   * Whether this run deploys again, and why: after its deploy went out ({@code deployed}: that
   * action), the variables now planned differ from the ones sent in the audiences (on a first 2nd
   * gen deploy, serviceConfig.uri exists only afterwards) or in trust mode (held back until the
   * invoker IAM check read on).
   *
   * @return the sentence that says why, or empty when the deploy sent stands
   */
  Optional<String> redeploy(Optional<JsonElement> deployed, Map<String, String> vars) {
    if (deployed.isEmpty() || !deployed.get().isJsonObject()) {
      return Optional.empty();
    }
    Map<String, String> sent = new LinkedHashMap<>();
    String prefix = "--update-env-vars=^" + ENV_DELIMITER + "^";
    for (JsonElement argument : deployed.get().getAsJsonObject().getAsJsonArray("gcloud")) {
      if (argument.getAsString().startsWith(prefix)) {
        for (String pair : argument.getAsString().substring(prefix.length()).split("\\|")) {
          int equals = pair.indexOf('=');
          sent.put(pair.substring(0, Math.max(equals, 0)), pair.substring(equals + 1));
        }
      }
    }
    String audiences = vars.get(GuardConfig.EXPECTED_AUDIENCES);
    if (!audiences.equals(sent.get(GuardConfig.EXPECTED_AUDIENCES))) {
      return Optional.of(
          "The function answers at a URL it did not know yet: redeploying with EXPECTED_AUDIENCES="
              + audiences);
    }
    String trust = vars.get(Options.TRUST);
    if (trust != null && !trust.equals(sent.get(Options.TRUST))) {
      return Optional.of(
          "Redeploying with "
              + Options.TRUST
              + "="
              + trust
              + ": the invoker IAM check now reads "
              + (trust.equals("true") ? "on" : "off or unknown"));
    }
    return Optional.empty();
  }

  /** The string at the path, or empty when any step is missing or not of that shape. */
  static Optional<String> text(JsonObject json, String... path) {
    JsonElement current = json;
    for (String step : path) {
      if (current == null || !current.isJsonObject()) {
        return Optional.empty();
      }
      current = current.getAsJsonObject().get(step);
    }
    return current != null && current.isJsonPrimitive() && !current.getAsString().isEmpty()
        ? Optional.of(current.getAsString())
        : Optional.empty();
  }
}
