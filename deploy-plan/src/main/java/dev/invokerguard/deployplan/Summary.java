package dev.invokerguard.deployplan;

import java.util.List;

/**
 * What deploy.sh prints at the end: the function, its URL, the expected audiences, the allowlist
 * and which entries are pinned, and how to call it. The call lines send the token in both {@code
 * Authorization} and {@code X-Serverless-Authorization} (issue 21): Cloud Run judges the second
 * when present and passes the first through, so the guard gets a verifiable copy whatever the front
 * end does to the judged one.
 */
final class Summary {
  private Summary() {}

  static Plan plan(Options options, String url, List<String> audiences, Callers callers) {
    Plan plan = new Plan();
    plan.info("")
        .info(
            "Function:  "
                + options.name
                + " ("
                + (options.gen1 ? "1st gen" : "2nd gen")
                + ", "
                + options.region
                + ", "
                + options.project
                + "), entry point "
                + options.entryPoint)
        .info("URL:       " + url)
        .info("Expected audiences (EXPECTED_AUDIENCES; a token for any other is the guard's 401):");
    audiences.forEach(audience -> plan.info("  " + audience));
    plan.info("Allowlist: " + String.join(",", callers.invokers()) + " (ALLOWED_INVOKERS)");
    callers.pinned().forEach(pinned -> plan.info("  " + pinned));
    String curl =
        "  curl -sS -H \"Authorization: Bearer ${TOKEN}\""
            + " -H \"X-Serverless-Authorization: Bearer ${TOKEN}\" '"
            + url
            + "'";
    plan.info("")
        .info(
            "Call it from GKE with Workload Identity (as the pod's Kubernetes service account bound"
                + " to an")
        .info("allowlisted Google service account):")
        .info("  TOKEN=\"$(curl -sS -H 'Metadata-Flavor: Google' \\")
        .info(
            "    'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/"
                + "default/identity?audience="
                + url
                + "&format=full')\"")
        .info(curl)
        .info("")
        .info(
            "Call it from a workstation (needs roles/iam.serviceAccountTokenCreator on the service"
                + " account):")
        .info(
            "  TOKEN=\"$(gcloud auth print-identity-token --impersonate-service-account="
                + callers.emails().get(0)
                + " \\")
        .info("    --audiences='" + url + "' --include-email)\"")
        .info(curl);
    return plan;
  }
}
