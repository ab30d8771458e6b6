package dev.invokerguard.standin;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.invokerguard.testing.TestIssuer;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The stand-in's IAM API ({@code iam.googleapis.com/v1}) for service accounts, as {@code gcloud iam
 * service-accounts} 528 calls it (shapes recorded from the real CLI): get (by email or unique ID,
 * under {@code projects/-} or the project), create, getIamPolicy and setIamPolicy on a service
 * account, and keys create, list (with the {@code keyTypes} filter), get and delete.
 *
 * <p>A key it creates is a real service-account key file (a fresh RSA key, {@code privateKeyData}
 * base64 of the JSON file) whose {@code token_uri} is the stand-in's token endpoint, which answers
 * that key's JWT-bearer grants (an ID token from the local issuer when {@code target_audience} is
 * asked) until the key is deleted. Unique IDs are {@link TestIssuer#uniqueIdOf}, the {@code sub} of
 * the tokens the local issuer mints. Key creation can be refused per project as Google does under
 * the organization policy {@code iam.disableServiceAccountKeyCreation}. Thread-safe.
 */
public final class IamServiceAccounts {
  /** The organization-policy constraint that forbids user-managed keys. */
  public static final String KEY_CREATION_CONSTRAINT =
      "constraints/iam.disableServiceAccountKeyCreation";

  private static final Pattern ACCOUNTS = Pattern.compile("/v1/projects/([^/]+)/serviceAccounts");
  private static final Pattern ACCOUNT =
      Pattern.compile("/v1/projects/([^/]+)/serviceAccounts/([^/:]+)(:\\w+)?");
  private static final Pattern KEYS =
      Pattern.compile("/v1/projects/([^/]+)/serviceAccounts/([^/:]+)/keys(?:/([0-9a-f]+))?");
  // Google's rule for an account ID: 6 to 30 characters, lower-case letters, digits, hyphens.
  private static final Pattern ACCOUNT_ID = Pattern.compile("[a-z]([-a-z0-9]{4,28}[a-z0-9])");
  private static final String NEVER = "9999-12-31T23:59:59Z";
  private static final SecureRandom RANDOM = new SecureRandom();

  /** One service account and what hangs off it. */
  private static final class Account {
    final JsonObject json;
    final IamPolicy policy;
    final Map<String, JsonObject> keys = new LinkedHashMap<>();

    Account(JsonObject json, IamPolicy policy) {
      this.json = json;
      this.policy = policy;
    }
  }

  private final Supplier<URI> baseUri;
  private final Map<String, PublicKey> tokenKeys;
  private final Clock clock;
  private final Set<String> projects = ConcurrentHashMap.newKeySet();
  private final Set<String> keysRefused = ConcurrentHashMap.newKeySet();
  private final Set<String> keysUndeletable = ConcurrentHashMap.newKeySet();
  private final Map<String, Account> accounts = new LinkedHashMap<>();

  /**
   * @param baseUri the stand-in's own URI (its token endpoint is {@code token/} under it)
   * @param tokenKeys the token endpoint's key ids and public keys, shared: a key made here is
   *     added, a key deleted here is removed
   * @param hostProject the stand-in's own project, which exists from the start
   */
  IamServiceAccounts(
      Supplier<URI> baseUri, Map<String, PublicKey> tokenKeys, Clock clock, String hostProject) {
    this.baseUri = baseUri;
    this.tokenKeys = tokenKeys;
    this.clock = clock;
    projects.add(hostProject);
  }

  // --- what tests use -------------------------------------------------------------------------

  /** Makes {@code projectId} exist (a client team's project); returns this. */
  public IamServiceAccounts addProject(String projectId) {
    projects.add(projectId);
    return this;
  }

  /** Whether {@code projectId} exists (the host project or one added). */
  public boolean projectExists(String projectId) {
    return projects.contains(projectId);
  }

  /**
   * Enforces {@code iam.disableServiceAccountKeyCreation} on {@code projectId}: keys.create is
   * refused with Google's 400 FAILED_PRECONDITION naming the constraint.
   */
  public void refuseKeyCreation(String projectId) {
    keysRefused.add(projectId);
  }

  /**
   * Refuses keys.delete of {@code keyId} with 403 PERMISSION_DENIED, as Google answers a caller who
   * may not delete that key; the other keys stay deletable.
   */
  public void refuseKeyDeletion(String keyId) {
    keysUndeletable.add(keyId);
  }

  /** The service account as the API returns it, if it exists. */
  public synchronized Optional<JsonObject> serviceAccount(String email) {
    Account account = accounts.get(email.toLowerCase(Locale.ROOT));
    return account == null ? Optional.empty() : Optional.of(account.json.deepCopy());
  }

  /** The ids of the account's user-managed keys that exist now. */
  public synchronized List<String> userManagedKeyIds(String email) {
    Account account = accounts.get(email.toLowerCase(Locale.ROOT));
    List<String> ids = new ArrayList<>();
    if (account != null) {
      account.keys.forEach(
          (id, key) -> {
            if ("USER_MANAGED".equals(Json.string(key, "keyType"))) {
              ids.add(id);
            }
          });
    }
    return ids;
  }

  /** Whether the account's IAM policy grants {@code role} to {@code member} without a condition. */
  public synchronized boolean grants(String email, String role, String member) {
    Account account = accounts.get(email.toLowerCase(Locale.ROOT));
    return account != null && account.policy.grants(role, member, clock.instant());
  }

  // --- the API ----------------------------------------------------------------------------------

  /** The answer to a request under {@code /iam/}, or null when it is not one this API knows. */
  synchronized Object route(GoogleStandIn.Request r) {
    String method = r.method();
    Matcher m;
    if ((m = KEYS.matcher(r.path())).matches()) {
      Account account = find(m.group(1), m.group(2));
      String keyId = m.group(3);
      if (keyId == null && method.equals("POST")) {
        return createKey(account, Json.object(r.body()));
      }
      if (keyId == null && method.equals("GET")) {
        return listKeys(account, parameters(r.query(), "keyTypes"));
      }
      JsonObject key = keyId == null ? null : account.keys.get(keyId);
      if (keyId != null && key == null) {
        throw new ApiException(404, "NOT_FOUND", "Unknown key: " + keyId);
      }
      if (keyId != null && method.equals("GET")) {
        return key.deepCopy();
      }
      if (keyId != null && method.equals("DELETE")) {
        if (!"USER_MANAGED".equals(Json.string(key, "keyType"))) {
          throw new ApiException(
              400, "INVALID_ARGUMENT", "System-managed keys cannot be deleted: " + keyId);
        }
        if (keysUndeletable.contains(keyId)) {
          throw new ApiException(
              403,
              "PERMISSION_DENIED",
              "Permission 'iam.serviceAccountKeys.delete' denied on resource "
                  + Json.string(key, "name"));
        }
        account.keys.remove(keyId);
        tokenKeys.remove(keyId);
        return new JsonObject();
      }
      return null;
    }
    if ((m = ACCOUNTS.matcher(r.path())).matches() && method.equals("POST")) {
      return create(m.group(1), Json.object(r.body()));
    }
    if ((m = ACCOUNT.matcher(r.path())).matches()) {
      Account account = find(m.group(1), m.group(2));
      String verb = m.group(3);
      if (verb == null && method.equals("GET")) {
        return account.json.deepCopy();
      }
      if (":getIamPolicy".equals(verb) && method.equals("POST")) {
        String requested =
            parameters(r.query(), "options.requestedPolicyVersion").stream()
                .findFirst()
                .orElse("1");
        return account.policy.get(Integer.parseInt(requested));
      }
      if (":setIamPolicy".equals(verb) && method.equals("POST")) {
        JsonObject body = Json.object(r.body());
        if (!body.has("policy") || !body.get("policy").isJsonObject()) {
          throw new ApiException(400, "INVALID_ARGUMENT", "setIamPolicy needs a policy");
        }
        return account.policy.set(body.getAsJsonObject("policy"));
      }
    }
    return null;
  }

  private Account find(String project, String emailOrId) {
    if (!project.equals("-") && !projects.contains(project)) {
      throw new ApiException(
          403,
          "PERMISSION_DENIED",
          "Permission 'iam.serviceAccounts.get' denied on resource (or it may not exist).");
    }
    String wanted = emailOrId.toLowerCase(Locale.ROOT);
    for (Account account : accounts.values()) {
      if (wanted.equals(Json.string(account.json, "email"))
          || wanted.equals(Json.string(account.json, "uniqueId"))) {
        if (!project.equals("-") && !project.equals(Json.string(account.json, "projectId"))) {
          break;
        }
        return account;
      }
    }
    throw new ApiException(404, "NOT_FOUND", "Unknown service account");
  }

  private JsonObject create(String project, JsonObject body) {
    if (!projects.contains(project)) {
      throw new ApiException(
          403,
          "PERMISSION_DENIED",
          "Permission 'iam.serviceAccounts.create' denied on resource (or it may not exist).");
    }
    String accountId = Json.string(body, "accountId");
    if (accountId == null || !ACCOUNT_ID.matcher(accountId).matches()) {
      throw new ApiException(
          400,
          "INVALID_ARGUMENT",
          "Invalid account ID: it must be 6 to 30 lower-case letters, digits or hyphens, starting"
              + " with a letter");
    }
    String email = accountId + "@" + project + ".iam.gserviceaccount.com";
    if (accounts.containsKey(email)) {
      throw new ApiException(
          409,
          "ALREADY_EXISTS",
          "Service account "
              + accountId
              + " already exists within project projects/"
              + project
              + ".");
    }
    JsonObject requested = Json.child(body, "serviceAccount");
    String uniqueId = TestIssuer.uniqueIdOf(email);
    JsonObject json = new JsonObject();
    json.addProperty("name", "projects/" + project + "/serviceAccounts/" + email);
    json.addProperty("projectId", project);
    json.addProperty("uniqueId", uniqueId);
    json.addProperty("email", email);
    for (String field : List.of("displayName", "description")) {
      if (Json.string(requested, field) != null) {
        json.addProperty(field, Json.string(requested, field));
      }
    }
    json.addProperty("etag", "MDEwMjE5MjA=");
    json.addProperty("oauth2ClientId", uniqueId);
    Account account = new Account(json, new IamPolicy(clock));
    // Google keeps a system-managed key on every account; keys list shows it unless filtered.
    String systemKey = newKeyId();
    account.keys.put(systemKey, keyMetadata(account, systemKey, "SYSTEM_MANAGED"));
    accounts.put(email, account);
    return json.deepCopy();
  }

  private JsonObject createKey(Account account, JsonObject body) {
    String project = Json.string(account.json, "projectId");
    String email = Json.string(account.json, "email");
    if (keysRefused.contains(project)) {
      throw keyCreationRefused(project, email);
    }
    String type = Json.string(body, "privateKeyType");
    if (type != null && !type.equals("TYPE_GOOGLE_CREDENTIALS_FILE")) {
      throw new ApiException(
          400, "INVALID_ARGUMENT", "the stand-in makes JSON key files only, not " + type);
    }
    String keyId = newKeyId();
    ServiceAccountKeyFile keyFile =
        ServiceAccountKeyFile.generate(
            keyId, project, email, Json.string(account.json, "uniqueId"), baseUri.get());
    JsonObject file = keyFile.json();
    JsonObject key = keyMetadata(account, keyId, "USER_MANAGED");
    account.keys.put(keyId, key);
    tokenKeys.put(keyId, keyFile.publicKey());
    JsonObject out = key.deepCopy();
    out.addProperty("privateKeyType", "TYPE_GOOGLE_CREDENTIALS_FILE");
    out.addProperty(
        "privateKeyData",
        Base64.getEncoder().encodeToString(file.toString().getBytes(StandardCharsets.UTF_8)));
    return out;
  }

  /** Google's answer under the constraint, naming the account as the violation's subject. */
  private static ApiException keyCreationRefused(String project, String email) {
    String message = "Key creation is not allowed on this service account.";
    return ApiException.orgPolicyRefusal(
        message,
        KEY_CREATION_CONSTRAINT,
        "projects/"
            + project
            + "/serviceAccounts/"
            + email
            + "?configvalue="
            + URLEncoder.encode(email, StandardCharsets.UTF_8),
        message);
  }

  private JsonObject listKeys(Account account, List<String> keyTypes) {
    JsonArray list = new JsonArray();
    for (JsonObject key : account.keys.values()) {
      if (keyTypes.isEmpty() || keyTypes.contains(Json.string(key, "keyType"))) {
        list.add(key.deepCopy());
      }
    }
    JsonObject out = new JsonObject();
    if (!list.isEmpty()) {
      out.add("keys", list);
    }
    return out;
  }

  private JsonObject keyMetadata(Account account, String keyId, String keyType) {
    JsonObject key = new JsonObject();
    key.addProperty("name", Json.string(account.json, "name") + "/keys/" + keyId);
    key.addProperty("validAfterTime", clock.instant().truncatedTo(ChronoUnit.SECONDS).toString());
    key.addProperty("validBeforeTime", NEVER);
    key.addProperty("keyAlgorithm", "KEY_ALG_RSA_2048");
    key.addProperty("keyOrigin", "GOOGLE_PROVIDED");
    key.addProperty("keyType", keyType);
    return key;
  }

  /** Every value of query parameter {@code name} (keys list repeats keyTypes for each type). */
  static List<String> parameters(String query, String name) {
    List<String> values = new ArrayList<>();
    if (query == null || query.isEmpty()) {
      return values;
    }
    for (String pair : query.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      if (key.equals(name)) {
        values.add(eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return values;
  }

  private static String newKeyId() {
    byte[] bytes = new byte[20];
    RANDOM.nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }
}
