package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cloud Functions v2 (get, create, patch, generateUploadUrl, operations, runtimes) and v1 (the same
 * for 1st gen, and the function's IAM policy), and the upload URL the source is PUT to. The v2 API
 * shows 1st gen functions too, in its own shape, as Google's does. Holds the deployed functions.
 */
final class CloudFunctions {
  private static final Pattern FUNCTION_V2 =
      Pattern.compile("/v2/projects/([^/]+)/locations/([^/]+)/functions/([^/:]+)(:\\w+)?");
  private static final Pattern FUNCTIONS_V2 =
      Pattern.compile("/v2/projects/([^/]+)/locations/([^/]+)/functions(:generateUploadUrl)?");
  private static final Pattern FUNCTION_V1 =
      Pattern.compile("/v1/projects/([^/]+)/locations/([^/]+)/functions/([^/:]+)(:\\w+)?");
  private static final Pattern FUNCTIONS_V1 =
      Pattern.compile("/v1/projects/([^/]+)/locations/([^/]+)/functions(:generateUploadUrl)?");
  private static final Pattern RUNTIMES =
      Pattern.compile("/v2/projects/([^/]+)/locations/([^/]+)/runtimes");
  private static final Pattern OPERATION_V2 =
      Pattern.compile("/v2/(projects/[^/]+/locations/[^/]+/operations/[^/]+)");
  private static final Pattern OPERATION_V1 = Pattern.compile("/v1/(operations/[^/]+)");
  private static final List<String> RUNTIME_NAMES = List.of("java11", "java17", "java21");

  private final GoogleStandIn google;
  private final String project;
  private final String projectNumber;
  private final Clock clock;
  private final Path workDir;
  private final Supplier<URI> baseUri;
  private final ProjectApis projects;
  private final ResourcePolicies policies;
  private final Map<String, Path> uploads = new ConcurrentHashMap<>();
  private final Map<String, DeployedFunction> functions = new ConcurrentHashMap<>();
  private final Map<String, Operation> operations = new ConcurrentHashMap<>();

  CloudFunctions(
      GoogleStandIn google,
      String project,
      String projectNumber,
      Clock clock,
      Path workDir,
      Supplier<URI> baseUri,
      ProjectApis projects,
      ResourcePolicies policies) {
    this.google = google;
    this.project = project;
    this.projectNumber = projectNumber;
    this.clock = clock;
    this.workDir = workDir;
    this.baseUri = baseUri;
    this.projects = projects;
    this.policies = policies;
  }

  /** The function {@code name} in {@code region} (either generation), or null. */
  DeployedFunction function(String region, String name) {
    return functions.get(region + "/" + name);
  }

  /**
   * Adds a function that exists but never ran (its state stays DEPLOYING): for tests of the APIs
   * around a function (Cloud Run's service, IAM) that need no instance.
   */
  DeployedFunction addIdle(String region, String id, int generation) {
    DeployedFunction function = new DeployedFunction(google, project, region, id, generation);
    if (functions.putIfAbsent(region + "/" + id, function) != null) {
      function.close();
      throw new IllegalStateException("function " + id + " exists");
    }
    return function;
  }

  /** Stops every function (its instance and front end). */
  void closeAll() {
    functions.values().forEach(DeployedFunction::close);
  }

  /** PUT of an upload URL that generateUploadUrl handed out: keeps the archive. */
  byte[] upload(GoogleStandIn.Request r, byte[] bytes) throws IOException {
    if (!r.method().equals("PUT")) {
      return null;
    }
    Path file = uploads.get(r.path().substring(1));
    if (file == null) {
      throw new ApiException(404, "NOT_FOUND", "no such upload URL");
    }
    Files.write(file, bytes);
    return new byte[0];
  }

  /**
   * The answer to a request under {@code /cloudfunctions}, or null when this API does not know it.
   */
  JsonObject route(GoogleStandIn.Request r) {
    String method = r.method();
    String path = r.path();
    Matcher m;
    if (method.equals("GET") && (m = RUNTIMES.matcher(path)).matches()) {
      projects.checkProject(m.group(1));
      return runtimes(LoopbackHttp.form(r.query()).get("filter"));
    }
    if ((m = OPERATION_V2.matcher(path)).matches() || (m = OPERATION_V1.matcher(path)).matches()) {
      Operation op = operations.get(m.group(1));
      if (op == null || !method.equals("GET")) {
        throw new ApiException(404, "NOT_FOUND", "Operation " + m.group(1) + " not found");
      }
      return op.toJson();
    }
    boolean v2 = path.startsWith("/v2/");
    if ((m = (v2 ? FUNCTIONS_V2 : FUNCTIONS_V1).matcher(path)).matches() && method.equals("POST")) {
      projects.checkProject(m.group(1));
      if (m.group(3) != null) {
        return generateUploadUrl(m.group(2), v2);
      }
      return v2
          ? createV2(
              m.group(2), LoopbackHttp.form(r.query()).get("functionId"), Json.object(r.body()))
          : createV1(m.group(2), Json.object(r.body()));
    }
    if ((m = (v2 ? FUNCTION_V2 : FUNCTION_V1).matcher(path)).matches()) {
      projects.checkProject(m.group(1));
      DeployedFunction function = function(m.group(2), m.group(3));
      boolean visible = function != null && (v2 || function.generation() == 1);
      String verb = m.group(4);
      if (!visible) {
        throw new ApiException(
            404,
            "NOT_FOUND",
            "Resource 'projects/"
                + project
                + "/locations/"
                + m.group(2)
                + "/functions/"
                + m.group(3)
                + "' was not found");
      }
      if (verb == null && method.equals("GET")) {
        return functionJson(function, v2 ? 2 : 1);
      }
      if (verb == null && method.equals("PATCH")) {
        return patch(
            function, v2, LoopbackHttp.form(r.query()).get("updateMask"), Json.object(r.body()));
      }
      if (verb != null && !v2 && function.generation() == 1) {
        return policies.answer(function.policy(), verb.substring(1), r);
      }
    }
    return null;
  }

  private JsonObject runtimes(String filter) {
    Map<String, String> wanted = new LinkedHashMap<>();
    if (filter != null) {
      for (String term : filter.split(" AND ")) {
        int eq = term.indexOf('=');
        if (eq > 0) {
          wanted.put(term.substring(0, eq).strip(), term.substring(eq + 1).strip());
        }
      }
    }
    JsonArray list = new JsonArray();
    for (String environment : List.of("GEN_1", "GEN_2")) {
      for (String name : RUNTIME_NAMES) {
        if (!wanted.getOrDefault("name", name).equals(name)
            || !wanted.getOrDefault("environment", environment).equals(environment)) {
          continue;
        }
        JsonObject runtime = new JsonObject();
        runtime.addProperty("name", name);
        runtime.addProperty("displayName", "Java " + name.substring(4));
        runtime.addProperty("stage", "GA");
        runtime.addProperty("environment", environment);
        list.add(runtime);
      }
    }
    JsonObject out = new JsonObject();
    out.add("runtimes", list);
    return out;
  }

  private JsonObject generateUploadUrl(String region, boolean v2) {
    String id = HexFormat.of().formatHex(LoopbackHttp.randomBytes(12));
    uploads.put(id, workDir.resolve("upload-" + id + ".zip"));
    JsonObject out = new JsonObject();
    out.addProperty("uploadUrl", baseUri.get() + "upload/" + id);
    if (v2) {
      JsonObject storage = new JsonObject();
      storage.addProperty("bucket", "gcf-v2-uploads-" + projectNumber + "." + region);
      storage.addProperty("object", id + ".zip");
      out.add("storageSource", storage);
    }
    return out;
  }

  private Path uploadedSource(JsonObject config, boolean v2) {
    String id;
    if (v2) {
      JsonObject storage =
          Json.child(Json.child(Json.child(config, "buildConfig"), "source"), "storageSource");
      String object = Json.string(storage, "object");
      id = object == null ? null : object.replaceFirst("\\.zip$", "");
    } else {
      String url = Json.string(config, "sourceUploadUrl");
      id = url == null ? null : url.substring(url.lastIndexOf('/') + 1);
    }
    Path file = id == null ? null : uploads.get(id);
    if (file == null || !Files.isRegularFile(file)) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "The function's source is not an uploaded archive");
    }
    return file;
  }

  private JsonObject createV2(String region, String functionId, JsonObject body) {
    if (functionId == null || !functionId.matches("[a-z]([a-z0-9-]{0,61}[a-z0-9])?")) {
      throw new ApiException(400, "INVALID_ARGUMENT", "Invalid function id: " + functionId);
    }
    if (functions.containsKey(region + "/" + functionId)) {
      throw new ApiException(409, "ALREADY_EXISTS", "Function " + functionId + " already exists");
    }
    int generation = "GEN_1".equals(Json.string(body, "environment")) ? 1 : 2;
    if (generation == 1) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "the stand-in creates 1st gen functions through the v1 API");
    }
    JsonObject config = stripOutputFields(body.deepCopy());
    checkV2(config);
    Path source = uploadedSource(config, true);
    DeployedFunction function = new DeployedFunction(google, project, region, functionId, 2);
    functions.put(region + "/" + functionId, function);
    return deploy(function, config, source, true, "create");
  }

  private JsonObject createV1(String region, JsonObject body) {
    String name = Json.string(body, "name");
    String prefix = "projects/" + project + "/locations/" + region + "/functions/";
    if (name == null || !name.startsWith(prefix)) {
      throw new ApiException(400, "INVALID_ARGUMENT", "Invalid function name: " + name);
    }
    String functionId = name.substring(prefix.length());
    if (functions.containsKey(region + "/" + functionId)) {
      throw new ApiException(409, "ALREADY_EXISTS", "Function " + functionId + " already exists");
    }
    JsonObject config = stripOutputFields(body.deepCopy());
    checkV1(config);
    Path source = uploadedSource(config, false);
    DeployedFunction function = new DeployedFunction(google, project, region, functionId, 1);
    functions.put(region + "/" + functionId, function);
    return deploy(function, config, source, false, "create");
  }

  private JsonObject patch(DeployedFunction function, boolean v2, String mask, JsonObject body) {
    if (v2 && function.generation() == 1) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "the stand-in updates 1st gen functions through the v1 API");
    }
    JsonObject config = function.config().deepCopy();
    if (mask == null || mask.isBlank()) {
      throw new ApiException(400, "INVALID_ARGUMENT", "updateMask is required");
    }
    Json.applyMask(config, body, mask);
    stripOutputFields(config);
    if (v2) {
      checkV2(config);
    } else {
      checkV1(config);
    }
    return deploy(function, config, uploadedSource(config, v2), v2, "update");
  }

  private static JsonObject stripOutputFields(JsonObject config) {
    for (String field :
        List.of(
            "name",
            "state",
            "updateTime",
            "url",
            "environment",
            "status",
            "versionId",
            "updateTime",
            "buildId",
            "buildName")) {
      config.remove(field);
    }
    if (config.has("serviceConfig") && config.get("serviceConfig").isJsonObject()) {
      config.getAsJsonObject("serviceConfig").remove("uri");
      config.getAsJsonObject("serviceConfig").remove("service");
      config.getAsJsonObject("serviceConfig").remove("revision");
    }
    if (config.has("httpsTrigger") && config.get("httpsTrigger").isJsonObject()) {
      config.getAsJsonObject("httpsTrigger").remove("url");
    }
    return config;
  }

  private static void checkV2(JsonObject config) {
    JsonObject build = Json.child(config, "buildConfig");
    if (Json.string(build, "entryPoint") == null) {
      throw new ApiException(400, "INVALID_ARGUMENT", "buildConfig.entryPoint is required");
    }
    if (!RUNTIME_NAMES.contains(Json.string(build, "runtime"))) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "Invalid runtime: " + Json.string(build, "runtime"));
    }
    if (config.has("eventTrigger")) {
      throw new ApiException(400, "INVALID_ARGUMENT", "the stand-in runs HTTP functions only");
    }
    DeployedFunction.checkEnvironment(
        Json.child(config, "serviceConfig").get("environmentVariables"));
  }

  private static void checkV1(JsonObject config) {
    if (Json.string(config, "entryPoint") == null) {
      throw new ApiException(400, "INVALID_ARGUMENT", "entryPoint is required");
    }
    if (!RUNTIME_NAMES.contains(Json.string(config, "runtime"))) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "Invalid runtime: " + Json.string(config, "runtime"));
    }
    if (!config.has("httpsTrigger")) {
      throw new ApiException(400, "INVALID_ARGUMENT", "the stand-in runs HTTP functions only");
    }
    DeployedFunction.checkEnvironment(config.get("environmentVariables"));
  }

  private JsonObject deploy(
      DeployedFunction function, JsonObject config, Path source, boolean v2, String verb) {
    String name =
        v2
            ? "projects/"
                + project
                + "/locations/"
                + function.region()
                + "/operations/operation-"
                + clock.millis()
                + "-"
                + HexFormat.of().formatHex(LoopbackHttp.randomBytes(6))
            : "operations/"
                + Base64.getUrlEncoder()
                    .withoutPadding()
                    .encodeToString(LoopbackHttp.randomBytes(18));
    JsonObject metadata = new JsonObject();
    String target =
        "projects/" + project + "/locations/" + function.region() + "/functions/" + function.id();
    if (v2) {
      metadata.addProperty(
          "@type", "type.googleapis.com/google.cloud.functions.v2.OperationMetadata");
      metadata.addProperty("target", target);
      metadata.addProperty("verb", verb);
      metadata.addProperty("apiVersion", "v2");
      metadata.addProperty("createTime", clock.instant().toString());
      JsonArray stages = new JsonArray();
      for (String stage : List.of("BUILD", "SERVICE")) {
        JsonObject s = new JsonObject();
        s.addProperty("name", stage);
        s.addProperty("state", stage.equals("BUILD") ? "COMPLETE" : "IN_PROGRESS");
        stages.add(s);
      }
      metadata.add("stages", stages);
    } else {
      metadata.addProperty(
          "@type", "type.googleapis.com/google.cloud.functions.v1.OperationMetadataV1");
      metadata.addProperty("target", target);
      metadata.addProperty("type", verb.equals("create") ? "CREATE_FUNCTION" : "UPDATE_FUNCTION");
      metadata.addProperty("updateTime", clock.instant().toString());
    }
    Operation op = new Operation(name, metadata);
    operations.put(name, op);
    function.update(config, source, op);
    return op.toJson();
  }

  /** The function as API version {@code apiVersion} (1 or 2) reports it. */
  JsonObject functionJson(DeployedFunction function, int apiVersion) {
    String region = function.region();
    String name = "projects/" + project + "/locations/" + region + "/functions/" + function.id();
    JsonObject config = function.config().deepCopy();
    JsonObject out = new JsonObject();
    out.addProperty("name", name);
    if (apiVersion == 1) {
      config.entrySet().forEach(e -> out.add(e.getKey(), e.getValue()));
      JsonObject trigger = Json.child(out, "httpsTrigger");
      trigger.addProperty("url", function.functionsUrl());
      if (!trigger.has("securityLevel")) {
        trigger.addProperty("securityLevel", "SECURE_ALWAYS");
      }
      out.add("httpsTrigger", trigger);
      out.addProperty(
          "status", function.state().equals("DEPLOYING") ? "DEPLOY_IN_PROGRESS" : function.state());
      if (!out.has("serviceAccountEmail")) {
        out.addProperty("serviceAccountEmail", project + "@appspot.gserviceaccount.com");
      }
      out.addProperty("versionId", Integer.toString(function.revisions()));
      out.addProperty("updateTime", function.updateTime().toString());
      out.addProperty("ingressSettings", "ALLOW_ALL");
      return out;
    }
    if (function.generation() == 1) {
      // The v2 API shows 1st gen functions too, in its own shape.
      out.addProperty("environment", "GEN_1");
      JsonObject build = new JsonObject();
      build.addProperty("runtime", Json.string(config, "runtime"));
      build.addProperty("entryPoint", Json.string(config, "entryPoint"));
      out.add("buildConfig", build);
      JsonObject service = new JsonObject();
      if (config.has("environmentVariables")) {
        service.add("environmentVariables", config.get("environmentVariables"));
      }
      service.addProperty("uri", function.functionsUrl());
      out.add("serviceConfig", service);
    } else {
      config.entrySet().forEach(e -> out.add(e.getKey(), e.getValue()));
      out.addProperty("environment", "GEN_2");
      JsonObject service = Json.child(out, "serviceConfig");
      service.addProperty(
          "service", "projects/" + project + "/locations/" + region + "/services/" + function.id());
      service.addProperty("uri", function.runUrl());
      if (!service.has("serviceAccountEmail")) {
        service.addProperty("serviceAccountEmail", projects.computeAccount());
      }
      service.addProperty("ingressSettings", "ALLOW_ALL");
      service.addProperty("allTrafficOnLatestRevision", true);
      service.addProperty(
          "revision", function.id() + "-" + String.format("%05d", function.revisions()));
      out.add("serviceConfig", service);
    }
    out.addProperty("state", function.state());
    out.addProperty("updateTime", function.updateTime().toString());
    out.addProperty("url", function.functionsUrl());
    return out;
  }
}
