package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The stand-in's GKE API ({@code container.googleapis.com/v1}), only as far as {@code gcloud
 * container clusters list} reads it (shape recorded from the real CLI 528: {@code GET
 * /v1/projects/P/locations/-/clusters}): the clusters a test adds, with the two settings Workload
 * Identity needs, the cluster's workload pool and each node pool's metadata mode. Thread-safe.
 */
public final class GkeClusters {
  private static final Pattern CLUSTERS =
      Pattern.compile("/v1/projects/([^/]+)/locations/([^/]+)/clusters");

  private record Cluster(String project, String location, JsonObject json) {}

  private final Predicate<String> projectExists;
  private final List<Cluster> clusters = new ArrayList<>();

  GkeClusters(Predicate<String> projectExists) {
    this.projectExists = projectExists;
  }

  /**
   * Adds a Standard cluster.
   *
   * @param workloadPool the cluster's Workload Identity pool ({@code PROJECT.svc.id.goog}), or null
   *     when Workload Identity is off
   * @param nodePools node pool name to its {@code workloadMetadataConfig.mode} ({@code
   *     GKE_METADATA}, or {@code GCE_METADATA} where pods see the node's own identity)
   */
  public synchronized void addCluster(
      String project,
      String location,
      String name,
      String workloadPool,
      Map<String, String> nodePools) {
    JsonObject json = new JsonObject();
    json.addProperty("name", name);
    json.addProperty("location", location);
    json.addProperty("status", "RUNNING");
    json.addProperty(
        "selfLink",
        "https://container.googleapis.com/v1/projects/"
            + project
            + "/locations/"
            + location
            + "/clusters/"
            + name);
    if (workloadPool != null) {
      JsonObject config = new JsonObject();
      config.addProperty("workloadPool", workloadPool);
      json.add("workloadIdentityConfig", config);
    }
    JsonArray pools = new JsonArray();
    nodePools.forEach(
        (pool, mode) -> {
          JsonObject metadata = new JsonObject();
          metadata.addProperty("mode", mode);
          JsonObject config = new JsonObject();
          config.add("workloadMetadataConfig", metadata);
          JsonObject nodePool = new JsonObject();
          nodePool.addProperty("name", pool);
          nodePool.add("config", config);
          nodePool.addProperty("status", "RUNNING");
          pools.add(nodePool);
        });
    json.add("nodePools", pools);
    clusters.add(new Cluster(project, location, json));
  }

  /** The answer to a request under {@code /container/}, or null when it is not one known here. */
  synchronized Object route(GoogleStandIn.Request r) {
    Matcher m = CLUSTERS.matcher(r.path());
    if (!m.matches() || !r.method().equals("GET")) {
      return null;
    }
    if (!projectExists.test(m.group(1))) {
      throw new ApiException(
          403,
          "PERMISSION_DENIED",
          "Permission denied on resource project " + m.group(1) + " (or it may not exist).");
    }
    JsonArray list = new JsonArray();
    for (Cluster cluster : clusters) {
      if (cluster.project().equals(m.group(1))
          && (m.group(2).equals("-") || m.group(2).equals(cluster.location()))) {
        list.add(cluster.json().deepCopy());
      }
    }
    JsonObject out = new JsonObject();
    if (!list.isEmpty()) {
      out.add("clusters", list);
    }
    return out;
  }
}
