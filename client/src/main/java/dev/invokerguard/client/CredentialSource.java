package dev.invokerguard.client;

/**
 * Where an {@link IdTokenAuthenticator} gets its ID tokens: the kind of Application Default
 * Credentials that google-auth-library found, or that none was found. Every {@link
 * IdTokenException} names one, with what to fix.
 */
public enum CredentialSource {
  /**
   * The metadata server of Compute Engine, GKE (Workload Identity) or Cloud Run, at {@code
   * metadata.google.internal} or at {@code GCE_METADATA_HOST} when that is set.
   */
  METADATA_SERVER(
      "the metadata server",
      "on GKE, check Workload Identity (the Kubernetes service account is annotated with"
          + " iam.gke.io/gcp-service-account and bound with roles/iam.workloadIdentityUser); on"
          + " Compute Engine, attach a service account to the VM; outside Google Cloud, set"
          + " GOOGLE_APPLICATION_CREDENTIALS instead"),

  /** A service-account key file, named by {@code GOOGLE_APPLICATION_CREDENTIALS}. */
  KEY_FILE(
      "the credentials file named by GOOGLE_APPLICATION_CREDENTIALS",
      "point GOOGLE_APPLICATION_CREDENTIALS at a readable service-account key JSON (\"type\":"
          + " \"service_account\") whose key is neither disabled nor deleted"),

  /**
   * Service-account impersonation: an {@code impersonated_service_account} credentials file, as
   * {@code gcloud auth application-default login --impersonate-service-account=SA} writes.
   */
  IMPERSONATION(
      "service-account impersonation",
      "grant the source identity roles/iam.serviceAccountTokenCreator on the target service"
          + " account, and renew the login with gcloud auth application-default login"
          + " --impersonate-service-account=SA"),

  /**
   * Workload Identity Federation: an {@code external_account} credential configuration (named by
   * {@code GOOGLE_APPLICATION_CREDENTIALS}) whose federated identity mints ID tokens for the
   * service account the configuration names ({@code service_account_impersonation_url}).
   */
  WORKLOAD_IDENTITY_FEDERATION(
      "Workload Identity Federation (an external_account credential configuration)",
      "check that the configuration names the service account (gcloud iam workload-identity-pools"
          + " create-cred-config ... --service-account=SA), that its subject token source (file,"
          + " URL or executable) yields a token the pool accepts, and that the federated principal"
          + " holds roles/iam.serviceAccountOpenIdTokenCreator on the service account"),

  /**
   * Credentials that cannot mint an ID token for an arbitrary audience, such as an end-user login
   * ({@code gcloud auth application-default login} without impersonation), whose ID token is for
   * the OAuth client and is not a service account's.
   */
  UNSUPPORTED(
      "credentials that cannot mint ID tokens for an audience (an end-user login, or an external"
          + " account configuration that names no service account)",
      "impersonate a service account (gcloud auth application-default login"
          + " --impersonate-service-account=SA), or name a service account in the Workload Identity"
          + " Federation configuration (create-cred-config --service-account=SA), or use a"
          + " service-account key file, or run on Compute Engine / GKE"),

  /** No Application Default Credentials at all. */
  NONE_FOUND(
      "Application Default Credentials, but none were found (no GOOGLE_APPLICATION_CREDENTIALS,"
          + " no gcloud application-default login, no metadata server)",
      "on GKE or Compute Engine make sure the metadata server is reachable; elsewhere set"
          + " GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run gcloud auth"
          + " application-default login --impersonate-service-account=SA");

  private final String description;
  private final String remedy;

  CredentialSource(String description, String remedy) {
    this.description = description;
    this.remedy = remedy;
  }

  /** Returns what this source is, in words fit for an error message. */
  public String description() {
    return description;
  }

  /** Returns what to check or change when getting a token from this source fails. */
  public String remedy() {
    return remedy;
  }
}
