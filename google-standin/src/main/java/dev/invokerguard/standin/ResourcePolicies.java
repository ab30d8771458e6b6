package dev.invokerguard.standin;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * The {@code getIamPolicy} and {@code setIamPolicy} methods of a resource's IAM policy (a 1st gen
 * function's, a Cloud Run service's), one implementation for both APIs, with domain-restricted
 * sharing ({@code constraints/iam.allowedPolicyMemberDomains}) enforced on every write.
 */
final class ResourcePolicies {
  static final String DOMAIN_CONSTRAINT = "constraints/iam.allowedPolicyMemberDomains";

  private volatile Predicate<String> permittedMember = member -> true;

  /** See {@link GoogleStandIn#restrictPolicyMembers}. */
  void restrictMembers(Predicate<String> permitted) {
    this.permittedMember = Objects.requireNonNull(permitted, "permitted");
  }

  /**
   * The answer to {@code verb} ({@code getIamPolicy} or {@code setIamPolicy}) on {@code policy}, or
   * null for a verb or method this API does not serve.
   */
  JsonObject answer(IamPolicy policy, String verb, GoogleStandIn.Request r) {
    switch (verb) {
      case "getIamPolicy" -> {
        String requested = LoopbackHttp.form(r.query()).get("options.requestedPolicyVersion");
        if (r.method().equals("POST")) {
          JsonObject options = Json.child(Json.object(r.body()), "options");
          requested = Json.string(options, "requestedPolicyVersion");
        }
        return policy.get(requested == null ? 1 : Integer.parseInt(requested));
      }
      case "setIamPolicy" -> {
        if (!r.method().equals("POST")) {
          return null;
        }
        JsonObject body = Json.object(r.body());
        if (!body.has("policy") || !body.get("policy").isJsonObject()) {
          throw new ApiException(400, "INVALID_ARGUMENT", "setIamPolicy needs a policy");
        }
        JsonObject requested = body.getAsJsonObject("policy");
        checkPermittedMembers(requested);
        return policy.set(requested);
      }
      default -> {
        return null;
      }
    }
  }

  /** Refuses, as Google does, a policy naming any member the constraint does not permit. */
  void checkPermittedMembers(JsonObject policy) {
    if (!policy.has("bindings") || !policy.get("bindings").isJsonArray()) {
      return;
    }
    for (JsonElement binding : policy.getAsJsonArray("bindings")) {
      JsonObject b = binding.isJsonObject() ? binding.getAsJsonObject() : new JsonObject();
      if (!b.has("members") || !b.get("members").isJsonArray()) {
        continue;
      }
      for (JsonElement member : b.getAsJsonArray("members")) {
        if (!permittedMember.test(member.getAsString())) {
          throw ApiException.orgPolicyRefusal(
              "One or more users named in the policy do not belong to a permitted customer,"
                  + " perhaps due to an organization policy.",
              DOMAIN_CONSTRAINT,
              null,
              "User is not in permitted organization.");
        }
      }
    }
  }
}
