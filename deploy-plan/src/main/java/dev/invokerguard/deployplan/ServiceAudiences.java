package dev.invokerguard.deployplan;

import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The custom audiences on the 2nd gen function's Cloud Run service, where Google checks them. Only
 * the missing ones are added: the service is read first, because every {@code gcloud run services
 * update} replaces the service (gcloud sets a new nonce on its template: a new revision) even when
 * the audiences are already there. Audiences set on the service by hand are left as they are.
 */
final class ServiceAudiences {
  static final String ANNOTATION = "run.googleapis.com/custom-audiences";

  private ServiceAudiences() {}

  /**
   * The read of the 2nd gen function's service (its custom audiences, its invoker IAM check): none
   * on 1st gen.
   */
  static List<String> read(Options options, String service) {
    if (options.gen1) {
      return List.of();
    }
    List<String> read = new ArrayList<>(List.of("run", "services", "describe", service));
    read.addAll(Gcloud.common(options));
    read.add("--format=json");
    return read;
  }

  /**
   * @param described what {@code gcloud run services describe} printed, or empty when it failed
   */
  static Plan plan(Options options, String service, Optional<String> described) {
    Plan plan = new Plan();
    if (options.customAudiences.isEmpty()) {
      return plan;
    }
    List<String> current = new ArrayList<>();
    if (described.isEmpty()) {
      plan.warn("could not read service " + service + "; adding every --audience");
    } else if (!readInto(described.get(), current)) {
      plan.warn(
          "the custom audiences of service "
              + service
              + " are unreadable; adding every --audience");
    }
    List<String> missing =
        options.customAudiences.stream().filter(audience -> !current.contains(audience)).toList();
    if (missing.isEmpty()) {
      return plan.info("Custom audiences already set on service " + service + ": no update.");
    }
    List<String> update = new ArrayList<>(List.of("run", "services", "update", service));
    update.addAll(Gcloud.common(options));
    update.add("--add-custom-audiences=" + String.join(",", missing));
    update.add("--quiet");
    return plan.action(
        "Adding custom audiences to service " + service + ": " + String.join(",", missing),
        update,
        "setting the custom audiences on service " + service,
        null);
  }

  /** The annotation's list (absent: none); false when the service or its list is unreadable. */
  private static boolean readInto(String described, List<String> current) {
    try {
      JsonElement service = JsonParser.parseString(described);
      if (!service.isJsonObject()) {
        return false;
      }
      Optional<String> annotation =
          Deployment.text(service.getAsJsonObject(), "metadata", "annotations", ANNOTATION);
      JsonElement list = JsonParser.parseString(annotation.orElse("[]"));
      if (!list.isJsonArray()) {
        return false;
      }
      for (JsonElement item : list.getAsJsonArray()) {
        if (item.isJsonPrimitive() && item.getAsJsonPrimitive().isString()) {
          current.add(item.getAsString());
        }
      }
      return true;
    } catch (JsonParseException e) {
      return false;
    }
  }
}
