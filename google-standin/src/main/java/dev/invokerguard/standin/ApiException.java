package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

/** An API error the stand-in answers in Google's shape, e.g. 404 NOT_FOUND. */
final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final int code;
  final String status;

  /** The error's {@code details} (e.g. a PreconditionFailure naming a constraint), or null. */
  final transient JsonArray details;

  ApiException(int code, String status, String message) {
    this(code, status, message, null);
  }

  ApiException(int code, String status, String message, JsonArray details) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
  }

  /**
   * Google's refusal under an organization policy constraint: 400 FAILED_PRECONDITION with a
   * PreconditionFailure detail whose one violation names the constraint (gcloud prints the detail
   * under the message).
   *
   * @param subject the violation's subject, or null for none
   */
  static ApiException orgPolicyRefusal(
      String message, String constraint, String subject, String description) {
    JsonObject violation = new JsonObject();
    violation.addProperty("type", constraint);
    if (subject != null) {
      violation.addProperty("subject", subject);
    }
    violation.addProperty("description", description);
    JsonArray violations = new JsonArray();
    violations.add(violation);
    JsonObject detail = new JsonObject();
    detail.addProperty("@type", "type.googleapis.com/google.rpc.PreconditionFailure");
    detail.add("violations", violations);
    JsonArray details = new JsonArray();
    details.add(detail);
    return new ApiException(400, "FAILED_PRECONDITION", message, details);
  }
}
