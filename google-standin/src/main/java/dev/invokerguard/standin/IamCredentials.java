package dev.invokerguard.standin;

import com.google.gson.JsonObject;
import dev.invokerguard.testing.TestIssuer;
import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The stand-in's IAM Service Account Credentials API ({@code iamcredentials.googleapis.com/v1}) as
 * {@code gcloud auth print-identity-token --impersonate-service-account=SA --audiences=URL
 * --include-email} 528 calls it (recorded from the real CLI): first {@code generateAccessToken} for
 * the account (gcloud's impersonated credentials), then {@code generateIdToken} with {@code
 * audience} and {@code includeEmail}. As at Google, the caller needs {@code
 * roles/iam.serviceAccountTokenCreator} on the account (or is the account itself), and the account
 * must exist; otherwise 403 PERMISSION_DENIED with Google's message. ID tokens come from the local
 * issuer, as every ID token in this world does.
 */
final class IamCredentials {
  static final String TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator";

  private static final Pattern GENERATE =
      Pattern.compile(
          "/v1/projects/-/serviceAccounts/([^/:]+):(generateAccessToken|generateIdToken)");

  private final IamServiceAccounts iam;
  private final TestIssuer issuer;
  private final Clock clock;
  private final Function<String, String> newAccessToken;

  /**
   * @param newAccessToken makes an access token for the given email that the stand-in's APIs accept
   */
  IamCredentials(
      IamServiceAccounts iam,
      TestIssuer issuer,
      Clock clock,
      Function<String, String> newAccessToken) {
    this.iam = iam;
    this.issuer = issuer;
    this.clock = clock;
    this.newAccessToken = newAccessToken;
  }

  /** The answer, or null for a request this API does not serve. */
  JsonObject route(GoogleStandIn.Request r, String caller) {
    Matcher m = GENERATE.matcher(r.path());
    if (!r.method().equals("POST") || !m.matches()) {
      return null;
    }
    String email = m.group(1).toLowerCase(Locale.ROOT);
    String permission =
        m.group(2).equals("generateIdToken")
            ? "iam.serviceAccounts.getOpenIdToken"
            : "iam.serviceAccounts.getAccessToken";
    boolean self = email.equalsIgnoreCase(caller);
    if (iam.serviceAccount(email).isEmpty()
        || (!self && !iam.grants(email, TOKEN_CREATOR, "serviceAccount:" + caller))) {
      throw new ApiException(
          403,
          "PERMISSION_DENIED",
          "Permission '" + permission + "' denied on resource (or it may not exist).");
    }
    JsonObject body = Json.object(r.body());
    JsonObject out = new JsonObject();
    if (m.group(2).equals("generateAccessToken")) {
      out.addProperty("accessToken", newAccessToken.apply(email));
      // Whole seconds, as Google writes it: gcloud parses it with "%Y-%m-%dT%H:%M:%SZ" and
      // fails the impersonation on a fraction.
      out.addProperty(
          "expireTime",
          clock.instant().plus(Duration.ofHours(1)).truncatedTo(ChronoUnit.SECONDS).toString());
      return out;
    }
    String audience = Json.string(body, "audience");
    if (audience == null || audience.isBlank()) {
      throw new ApiException(400, "INVALID_ARGUMENT", "audience is required");
    }
    out.addProperty("token", issuer.mint(email, audience));
    return out;
  }
}
