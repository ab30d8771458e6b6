package dev.invokerguard.standin;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The project-level reads gcloud makes on the way to a deploy: Service Usage (is an API enabled:
 * always), Cloud Build (the default build account: the compute account) and Resource Manager (the
 * project, and its IAM policy: the deployer owns it). Also the one check of a requested project, by
 * ID or number, that every API of the stand-in makes.
 */
final class ProjectApis {
  private static final Pattern SERVICE_USAGE =
      Pattern.compile("/v1/projects/([^/]+)/services/([^/]+)");
  private static final Pattern BUILD_ACCOUNT =
      Pattern.compile("/v1/projects/([^/]+)/locations/([^/]+)/defaultServiceAccount");
  private static final Pattern PROJECT = Pattern.compile("/v1/projects/([^/:]+)(:getIamPolicy)?");

  private final String project;
  private final String projectNumber;

  ProjectApis(String project, String projectNumber) {
    this.project = project;
    this.projectNumber = projectNumber;
  }

  /** 403 as Google answers it unless {@code requested} is the project's ID or number. */
  static void checkProject(String requested, String project, String projectNumber) {
    if (!requested.equals(project) && !requested.equals(projectNumber)) {
      throw new ApiException(
          403,
          "PERMISSION_DENIED",
          "Permission denied on resource project " + requested + " (or it may not exist).");
    }
  }

  void checkProject(String requested) {
    checkProject(requested, project, projectNumber);
  }

  /** The project's default compute service account, which runs 2nd gen functions and builds. */
  String computeAccount() {
    return projectNumber + "-compute@developer.gserviceaccount.com";
  }

  /** Service Usage: every API asked about is enabled. */
  JsonObject serviceUsage(GoogleStandIn.Request r) {
    Matcher m = SERVICE_USAGE.matcher(r.path());
    if (!r.method().equals("GET") || !m.matches()) {
      return null;
    }
    checkProject(m.group(1));
    JsonObject service = new JsonObject();
    service.addProperty("name", "projects/" + projectNumber + "/services/" + m.group(2));
    service.addProperty("parent", "projects/" + projectNumber);
    service.addProperty("state", "ENABLED");
    return service;
  }

  /** Cloud Build: the default build account. */
  JsonObject cloudBuild(GoogleStandIn.Request r) {
    Matcher m = BUILD_ACCOUNT.matcher(r.path());
    if (!r.method().equals("GET") || !m.matches()) {
      return null;
    }
    checkProject(m.group(1));
    JsonObject account = new JsonObject();
    account.addProperty("name", r.path().substring(4));
    account.addProperty(
        "serviceAccountEmail", "projects/" + project + "/serviceAccounts/" + computeAccount());
    return account;
  }

  /** Resource Manager: the project and its IAM policy. */
  JsonObject resourceManager(GoogleStandIn.Request r) {
    Matcher m = PROJECT.matcher(r.path());
    if (!m.matches()) {
      return null;
    }
    checkProject(m.group(1));
    if (m.group(2) == null && r.method().equals("GET")) {
      JsonObject p = new JsonObject();
      p.addProperty("projectNumber", projectNumber);
      p.addProperty("projectId", project);
      p.addProperty("lifecycleState", "ACTIVE");
      p.addProperty("name", project);
      return p;
    }
    if (m.group(2) != null && r.method().equals("POST")) {
      // The deployer owns the project; nothing else is modelled at project level.
      return JsonParser.parseString(
              "{\"version\":1,\"etag\":\"BwAAAAAAAAE=\",\"bindings\":[{\"role\":"
                  + "\"roles/owner\",\"members\":[\"user:owner@example.com\"]}]}")
          .getAsJsonObject();
    }
    return null;
  }
}
