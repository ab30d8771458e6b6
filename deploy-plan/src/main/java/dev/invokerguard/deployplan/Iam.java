package dev.invokerguard.deployplan;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The invoker IAM plan: the function's (1st gen) or its Cloud Run service's (2nd gen) IAM policy as
 * gcloud read it, and the allowlist, in; grant, revoke and warn out. The unconditional members of
 * the invoker role end up equal to the allowlist: public members removed first, then every other
 * member not on it, then the missing accounts granted. Members held only through a conditional
 * binding are reported and left alone; they do not count as granted (they lapse with their
 * condition).
 */
final class Iam {
  /** What gcloud prints when an organization policy refuses a member of another organization. */
  static final String ORG_POLICY_REFUSAL =
      "permitted customer|allowedPolicyMemberDomains|allowedPolicyMembers";

  private final Options options;
  private final List<String> unconditional = new ArrayList<>();
  private final List<String[]> conditional = new ArrayList<>();

  /**
   * @param policy the policy JSON as read
   * @throws IllegalStateException when it is not a policy (fail closed: an unreadable policy must
   *     not read as "no members")
   */
  Iam(Options options, JsonElement policy) {
    this.options = options;
    if (policy == null || !policy.isJsonObject()) {
      throw new IllegalStateException("the IAM policy is not valid JSON");
    }
    JsonElement bindings = policy.getAsJsonObject().get("bindings");
    if (bindings == null || bindings.isJsonNull()) {
      return;
    }
    if (!bindings.isJsonArray()) {
      throw new IllegalStateException("the IAM policy is not valid JSON");
    }
    String role = options.invokerRole();
    for (JsonElement element : bindings.getAsJsonArray()) {
      JsonObject binding = object(element);
      String bindingRole = Deployment.text(binding, "role").orElse("");
      boolean conditioned = binding.has("condition") && !binding.get("condition").isJsonNull();
      // A version 1 read shows a conditional binding as the role "ROLE_withcond_...".
      boolean invoker = bindingRole.equals(role) || bindingRole.startsWith(role + "_withcond_");
      if (!invoker) {
        continue;
      }
      String title = Deployment.text(binding, "condition", "title").orElse("(condition not shown)");
      for (String member : members(binding)) {
        if (bindingRole.equals(role) && !conditioned) {
          unconditional.add(member);
        } else {
          conditional.add(new String[] {member, title});
        }
      }
    }
  }

  /** Public members found before this run's deploy, which on 2nd gen may drop them quietly. */
  Plan before() {
    Plan plan = new Plan();
    for (String member : unconditional) {
      if (isPublic(member)) {
        plan.warn(
            "PUBLIC ACCESS: "
                + member
                + " held "
                + options.invokerRole()
                + " on "
                + options.name
                + " before this run: anyone could reach the function (the guard still checked"
                + " every call); it is being removed");
      }
    }
    return plan;
  }

  /** The convergence: warnings, the calls in order, and the summary line. */
  Plan converge(Callers callers) {
    Plan plan = new Plan();
    String role = options.invokerRole();
    List<String> leftAlone = new ArrayList<>();
    for (String[] held : conditional) {
      leftAlone.add(held[0]);
      plan.warn(
          "conditional binding left alone: "
              + held[0]
              + " holds "
              + role
              + " on "
              + options.name
              + " only under condition '"
              + held[1]
              + "'; it does not count as granted (deploy.sh neither removes nor rewrites"
              + " conditional bindings)");
    }
    List<String> wanted =
        callers.emails().stream().map(email -> "serviceAccount:" + email).toList();
    List<String> current = unconditional.stream().map(Iam::normalize).toList();
    int changes = 0;
    for (boolean publicPass : new boolean[] {true, false}) {
      for (String member : unconditional) {
        if (wanted.contains(normalize(member)) || isPublic(member) != publicPass) {
          continue;
        }
        if (publicPass) {
          plan.warn(
              "PUBLIC ACCESS: "
                  + member
                  + " holds "
                  + role
                  + " on "
                  + options.name
                  + "; removing it");
        }
        changes++;
        plan.action(
            publicPass ? null : "Revoking " + role + " from " + member + " (not on the allowlist)",
            bindingCall("remove-invoker-policy-binding", member),
            "removing " + member + " from " + role,
            null);
      }
    }
    for (String member : wanted) {
      if (current.contains(member)) {
        continue;
      }
      changes++;
      plan.action(
          "Granting " + role + " to " + member,
          bindingCall("add-invoker-policy-binding", member),
          "granting " + role + " to " + member,
          null,
          ORG_POLICY_REFUSAL,
          "granting "
              + role
              + " to "
              + member
              + " was refused by the organization policy constraints/iam.allowedPolicyMemberDomains"
              + " (domain-restricted sharing; or iam.managed.allowedPolicyMembers): ask your"
              + " organization policy administrator to allow the caller's organization (its Google"
              + " Workspace customer ID, or organization principal set) in that constraint for"
              + " project "
              + options.project);
    }
    String alone =
        leftAlone.isEmpty()
            ? ""
            : " Conditional bindings left alone: " + String.join(", ", leftAlone) + ".";
    if (changes == 0) {
      plan.info("IAM already matches the allowlist: no IAM changes." + alone);
    } else if (options.dryRun) {
      plan.info("Dry run: " + changes + " IAM change(s) planned, none made." + alone);
    } else {
      plan.info("IAM converged: " + changes + " change(s) attempted." + alone);
    }
    return plan;
  }

  /** The gcloud read of the policy this plan judges. */
  static List<String> policyRead(Options options, String service) {
    List<String> read = new ArrayList<>();
    if (options.gen1) {
      read.addAll(List.of("functions", "get-iam-policy", options.name));
      read.addAll(Gcloud.common(options));
      read.add("--no-gen2");
    } else {
      read.addAll(List.of("run", "services", "get-iam-policy", service));
      read.addAll(Gcloud.common(options));
    }
    read.add("--format=json");
    return read;
  }

  private List<String> bindingCall(String verb, String member) {
    List<String> call = new ArrayList<>(List.of("functions", verb, options.name));
    call.addAll(Gcloud.common(options));
    call.add(Gcloud.generationFlag(options));
    call.add("--member=" + member);
    call.add("--quiet");
    return call;
  }

  static boolean isPublic(String member) {
    return member.equals("allUsers") || member.equals("allAuthenticatedUsers");
  }

  /**
   * An IAM member as compared here: service-account emails are case-insensitive, other kinds are
   * compared as written.
   */
  static String normalize(String member) {
    return member.startsWith("serviceAccount:")
        ? "serviceAccount:" + member.substring(15).toLowerCase(Locale.ROOT)
        : member;
  }

  private static JsonObject object(JsonElement element) {
    if (element == null || !element.isJsonObject()) {
      throw new IllegalStateException("the IAM policy is not valid JSON");
    }
    return element.getAsJsonObject();
  }

  private static List<String> members(JsonObject binding) {
    JsonElement members = binding.get("members");
    if (members == null || members.isJsonNull()) {
      return List.of();
    }
    if (!members.isJsonArray()) {
      throw new IllegalStateException("the IAM policy is not valid JSON");
    }
    List<String> out = new ArrayList<>();
    for (JsonElement member : members.getAsJsonArray()) {
      if (!member.isJsonPrimitive()) {
        throw new IllegalStateException("the IAM policy is not valid JSON");
      }
      out.add(member.getAsString());
    }
    return out;
  }
}
