package dev.invokerguard.client;

import com.google.api.client.http.HttpHeaders;
import com.google.api.client.http.HttpRequestInitializer;
import com.google.api.client.util.BackOff;
import com.google.api.client.util.ExponentialBackOff;
import com.google.api.client.util.Sleeper;
import com.google.auth.http.HttpTransportFactory;
import com.google.auth.oauth2.AwsCredentials;
import com.google.auth.oauth2.ComputeEngineCredentials;
import com.google.auth.oauth2.ExternalAccountCredentials;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.IdTokenCredentials;
import com.google.auth.oauth2.IdTokenProvider;
import com.google.auth.oauth2.IdentityPoolCredentials;
import com.google.auth.oauth2.ImpersonatedCredentials;
import com.google.auth.oauth2.PluggableAuthCredentials;
import com.google.auth.oauth2.UserCredentials;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * Adds a Google-signed ID token for one audience to outgoing requests, as {@code Authorization:
 * Bearer <token>} (RFC 6750 section 2.1) and, by default, the same value again in {@code
 * X-Serverless-Authorization}. This is the one call a Java client needs to call a function
 * protected by invoker-guard:
 *
 * <pre>{@code
 * IdTokenAuthenticator auth = IdTokenAuthenticator.forAudience("https://REGION-PROJECT.cloudfunctions.net/fn");
 * HttpRequest request = auth.authorize(HttpRequest.newBuilder(uri)).GET().build();
 * }</pre>
 *
 * <p>Tokens come from Application Default Credentials through google-auth-library's {@link
 * IdTokenCredentials}, so the same code works unchanged on GKE with Workload Identity, on Compute
 * Engine and Cloud Run (the metadata server, asked for {@code format=full} so that the token
 * carries {@code email}), with a service-account key file ({@code GOOGLE_APPLICATION_CREDENTIALS}),
 * with service-account impersonation (asked to include {@code email}), and with Workload Identity
 * Federation (an {@code external_account} configuration naming a service account: its federated
 * token asks IAM for the account's ID token).
 *
 * <p>Tokens are cached by google-auth-library and refreshed before they expire (a few minutes ahead
 * of {@code exp}); a request never fetches a token of its own, which matters because the metadata
 * server rate-limits. google-auth-library does not retry ID-token fetches, so this class retries a
 * token source that is not ready yet (connection refused or dropped, as a metadata server while a
 * pod starts), rate-limits (429) or fails (5xx), with exponential backoff, until the {@linkplain
 * Builder#retryDeadline deadline}; other failures are reported at once. Every failure is an {@link
 * IdTokenException} that names the {@link CredentialSource} it tried and what to fix; no message
 * ever contains a token.
 *
 * <p><b>Why two headers.</b> When a request carries {@code X-Serverless-Authorization}, Cloud Run
 * (and so a 2nd gen function) checks that header for IAM and passes {@code Authorization} to the
 * code unchanged; a token it checked may reach the code with its signature removed. Sending the
 * same token in both headers lets Google judge one copy while the function gets another that it can
 * verify itself, whatever Google does to the judged one. {@link Builder#authorizationHeaderOnly()}
 * sends {@code Authorization} alone, for a server that must not see the second header. See
 * docs/CLIENT.md for the sources.
 *
 * <p>Credentials are looked up on first use, not at construction, so that building an authenticator
 * never blocks. Thread-safe; share one instance per audience.
 */
public final class IdTokenAuthenticator {

  /** The default overall time allowed for retrying a metadata server that is not ready. */
  public static final Duration DEFAULT_RETRY_DEADLINE = Duration.ofSeconds(30);

  private static final Duration MAX_RETRY_DEADLINE = Duration.ofMinutes(10);

  /**
   * FORMAT_FULL makes the metadata server put {@code email} into the token; INCLUDE_EMAIL does the
   * same for impersonation. Key-file tokens carry {@code email} anyway. Without it the verifier
   * could only match the numeric unique ID.
   */
  private static final List<IdTokenProvider.Option> OPTIONS =
      List.of(IdTokenProvider.Option.FORMAT_FULL, IdTokenProvider.Option.INCLUDE_EMAIL);

  private static final String CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS";

  /** The scope of the federated token that calls IAM's generateIdToken. */
  private static final String CLOUD_PLATFORM_SCOPE =
      "https://www.googleapis.com/auth/cloud-platform";

  /** The standard header (RFC 6750 section 2.1); always sent. */
  public static final String AUTHORIZATION = "Authorization";

  /**
   * The header Cloud Run judges in place of {@code Authorization} when it is present; sent with the
   * same value unless {@link Builder#authorizationHeaderOnly()} was chosen.
   */
  public static final String SERVERLESS_AUTHORIZATION = "X-Serverless-Authorization";

  /** Loads credentials; the default is Application Default Credentials. */
  interface CredentialsLoader {
    GoogleCredentials load() throws IOException;
  }

  /** The credentials found, and the token cache built on them. */
  private record Resolved(CredentialSource source, IdTokenCredentials idTokens) {}

  private final String audience;
  private final CredentialsLoader loader;
  private final CredentialSource declaredSource;
  private final Clock clock;
  private final Duration retryDeadline;
  private final Sleeper sleeper;
  private final UnaryOperator<String> environment;
  private final boolean authorizationHeaderOnly;
  private final HttpTransportFactory iamTransport;

  // Guarded by "this". Set once credentials were found; a failed lookup is tried again next time.
  private Resolved resolved;

  private IdTokenAuthenticator(Builder builder) {
    this.audience = builder.audience;
    this.loader = builder.loader;
    this.declaredSource = builder.declaredSource;
    this.clock = builder.clock;
    this.retryDeadline = builder.retryDeadline;
    this.sleeper = builder.sleeper;
    this.environment = builder.environment;
    this.authorizationHeaderOnly = builder.authorizationHeaderOnly;
    this.iamTransport = builder.iamTransport;
  }

  /**
   * Returns an authenticator for {@code audience} over Application Default Credentials, with the
   * default retry deadline.
   *
   * @param audience the {@code aud} the tokens are minted for: the URL of the function, as the
   *     function's {@code EXPECTED_AUDIENCES} lists it
   * @return the authenticator; credentials are looked up on first use
   * @throws IllegalStateException when the audience is empty or contains whitespace
   */
  public static IdTokenAuthenticator forAudience(String audience) {
    return builder().audience(audience).build();
  }

  /**
   * Returns a builder, for explicit credentials, another retry deadline or a test clock.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Options for an {@link IdTokenAuthenticator}; only the audience is required. */
  public static final class Builder {
    private String audience;
    private CredentialsLoader loader = GoogleCredentials::getApplicationDefault;
    private CredentialSource declaredSource;
    private Clock clock = Clock.systemUTC();
    private Duration retryDeadline = DEFAULT_RETRY_DEADLINE;
    private Sleeper sleeper = Sleeper.DEFAULT;
    private UnaryOperator<String> environment = System::getenv;
    private boolean authorizationHeaderOnly;
    private HttpTransportFactory iamTransport;

    private Builder() {}

    /**
     * Sets the audience tokens are minted for (required).
     *
     * @param audience the {@code aud} claim, usually the URL of the function
     * @return this builder
     */
    public Builder audience(String audience) {
      this.audience = Objects.requireNonNull(audience, "audience");
      return this;
    }

    /**
     * Uses these credentials instead of Application Default Credentials. They must be able to mint
     * ID tokens ({@link IdTokenProvider}): {@link ComputeEngineCredentials}, a service account's
     * key, or {@link ImpersonatedCredentials}; or be an {@link ExternalAccountCredentials}
     * configuration that names a service account (Workload Identity Federation).
     *
     * @param credentials the credentials
     * @return this builder
     */
    public Builder credentials(GoogleCredentials credentials) {
      Objects.requireNonNull(credentials, "credentials");
      this.loader = () -> credentials;
      this.declaredSource = null;
      return this;
    }

    /** For tests: credentials whose type does not tell their source. */
    Builder credentials(GoogleCredentials credentials, CredentialSource source) {
      credentials(credentials);
      this.declaredSource = Objects.requireNonNull(source, "source");
      return this;
    }

    /** For tests: how credentials are found (the default is Application Default Credentials). */
    Builder credentialsLoader(CredentialsLoader loader) {
      this.loader = Objects.requireNonNull(loader, "loader");
      return this;
    }

    /**
     * Sets the clock the retry deadline is measured with (default the system clock); for tests.
     *
     * @param clock the clock
     * @return this builder
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets how long a token source that is not ready, rate-limits or fails is retried before giving
     * up (default {@link #DEFAULT_RETRY_DEADLINE}, at most ten minutes; zero tries once).
     *
     * @param deadline the overall time for one token fetch, retries included
     * @return this builder
     */
    public Builder retryDeadline(Duration deadline) {
      this.retryDeadline = Objects.requireNonNull(deadline, "deadline");
      return this;
    }

    /**
     * Sends the token in {@code Authorization} only, not also in {@code X-Serverless-Authorization}
     * (the default sends both). Choose it only for a server that refuses or misreads the second
     * header: behind Cloud Run, a token sent in {@code Authorization} alone is the one Google
     * judges, and what reaches the function then depends on what Google does to a token it judged.
     *
     * @return this builder
     */
    public Builder authorizationHeaderOnly() {
      this.authorizationHeaderOnly = true;
      return this;
    }

    /** For tests: how IAM's generateIdToken is reached for Workload Identity Federation. */
    Builder iamTransport(HttpTransportFactory transport) {
      this.iamTransport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /** For tests: how the backoff waits. */
    Builder sleeper(Sleeper sleeper) {
      this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
      return this;
    }

    /** For tests: the process environment. */
    Builder environment(UnaryOperator<String> environment) {
      this.environment = Objects.requireNonNull(environment, "environment");
      return this;
    }

    /**
     * Builds the authenticator; it looks credentials up on first use.
     *
     * @return the authenticator
     * @throws IllegalStateException when the audience is missing, empty or contains whitespace, or
     *     the deadline is negative or longer than ten minutes
     */
    public IdTokenAuthenticator build() {
      if (audience == null || audience.isEmpty()) {
        throw new IllegalStateException("an audience is required (the URL of the function)");
      }
      if (!audience.codePoints().noneMatch(c -> Character.isWhitespace(c) || c < 0x20)) {
        throw new IllegalStateException("the audience must not contain whitespace");
      }
      if (retryDeadline.isNegative() || retryDeadline.compareTo(MAX_RETRY_DEADLINE) > 0) {
        throw new IllegalStateException(
            "retryDeadline must be between 0 and " + MAX_RETRY_DEADLINE + ", was " + retryDeadline);
      }
      return new IdTokenAuthenticator(this);
    }
  }

  /** Returns the audience tokens are minted for. */
  public String audience() {
    return audience;
  }

  /**
   * Returns the names of the headers this authenticator sets: {@value #AUTHORIZATION} and {@value
   * #SERVERLESS_AUTHORIZATION}, or {@value #AUTHORIZATION} alone with {@link
   * Builder#authorizationHeaderOnly()}.
   */
  public List<String> headerNames() {
    return authorizationHeaderOnly
        ? List.of(AUTHORIZATION)
        : List.of(AUTHORIZATION, SERVERLESS_AUTHORIZATION);
  }

  /**
   * Returns the headers to set on a request, for any HTTP client: each of {@link #headerNames()}
   * with the value {@code "Bearer <ID token>"} (one token, the same in each). Call it for each
   * request; it answers from the cache.
   *
   * @return header names to values, in the order of {@link #headerNames()}
   * @throws IdTokenException when no token could be obtained
   */
  public Map<String, String> requestHeaders() throws IdTokenException {
    String value = authorizationHeaderValue();
    Map<String, String> headers = new LinkedHashMap<>();
    for (String name : headerNames()) {
      headers.put(name, value);
    }
    return Collections.unmodifiableMap(headers);
  }

  /**
   * Returns where tokens come from, looking the credentials up if that was not done yet.
   *
   * @return the credential source in use
   * @throws IdTokenException when no usable credentials are found
   */
  public CredentialSource credentialSource() throws IdTokenException {
    return resolve().source();
  }

  /**
   * Returns the value for an {@code Authorization} header, {@code "Bearer <ID token>"}, for any
   * HTTP client (set it in each of {@link #headerNames()}, or use {@link #requestHeaders()}). The
   * token comes from the cache while it is valid for a few more minutes; the result should be used
   * at once and not stored.
   *
   * @return the header value
   * @throws IdTokenException when no token could be obtained; the message says from where and what
   *     to fix
   */
  public String authorizationHeaderValue() throws IdTokenException {
    Resolved credentials = resolve();
    // google-auth-library (1.57) retries access-token refreshes and IAM signBlob, but none of its
    // ID-token fetches: not the metadata server's identity endpoint, not the key file's token
    // endpoint, not IAM generateIdToken for impersonation. So every source is retried here.
    Instant start = clock.instant();
    Instant deadline = start.plus(retryDeadline);
    BackOff backOff = newBackOff();
    int attempts = 0;
    while (true) {
      attempts++;
      try {
        return bearer(credentials);
      } catch (IOException | RuntimeException e) {
        if (!Failures.isTransient(e)) {
          throw failure(credentials.source(), "the request failed", e);
        }
        Duration left = Duration.between(clock.instant(), deadline);
        long waitMillis = nextBackOffMillis(backOff);
        if (left.isNegative() || left.isZero() || waitMillis == BackOff.STOP) {
          throw failure(
              credentials.source(),
              "still failing after "
                  + attempts
                  + (attempts == 1 ? " attempt" : " attempts")
                  + " in "
                  + Duration.between(start, clock.instant()).toMillis()
                  + " ms (retry deadline "
                  + retryDeadline.toMillis()
                  + " ms)",
              e);
        }
        pause(Math.min(waitMillis, left.toMillis()), credentials.source(), e);
      }
    }
  }

  /**
   * Sets the {@linkplain #requestHeaders() token headers} on a {@link java.net.http} request,
   * replacing any value they had.
   *
   * @param request the request being built
   * @return the same builder, for chaining
   * @throws IdTokenException when no token could be obtained
   */
  public HttpRequest.Builder authorize(HttpRequest.Builder request) throws IdTokenException {
    requestHeaders().forEach(request::setHeader);
    return request;
  }

  /**
   * Returns an initializer for google-http-client that sets the {@linkplain #requestHeaders() token
   * headers} on every request built with it, with the same caching, retries and errors as {@link
   * #authorizationHeaderValue()}.
   *
   * @return the initializer
   */
  public HttpRequestInitializer httpRequestInitializer() {
    return request -> {
      HttpHeaders headers = request.getHeaders();
      for (Map.Entry<String, String> header : requestHeaders().entrySet()) {
        if (header.getKey().equals(AUTHORIZATION)) {
          headers.setAuthorization(header.getValue()); // a typed field: set() would not fit it
        } else {
          headers.set(header.getKey(), header.getValue());
        }
      }
    };
  }

  @Override
  public String toString() {
    return "IdTokenAuthenticator{audience=" + audience + ", headers=" + headerNames() + "}";
  }

  private String bearer(Resolved credentials) throws IOException {
    // The cached path of google-auth-library: fetches only when the token is missing or about to
    // expire, and lets one refresh serve concurrent callers.
    Map<String, List<String>> metadata = credentials.idTokens().getRequestMetadata();
    List<String> values = metadata.get("Authorization");
    if (values == null || values.isEmpty() || !values.get(0).startsWith("Bearer ")) {
      throw new IOException("google-auth-library returned no Bearer Authorization value");
    }
    return values.get(0);
  }

  private synchronized Resolved resolve() throws IdTokenException {
    if (resolved != null) {
      return resolved;
    }
    GoogleCredentials credentials;
    try {
      credentials = loader.load();
    } catch (IOException | RuntimeException e) {
      String file = environment.apply(CREDENTIALS_ENV);
      boolean fromFile = file != null && !file.isEmpty();
      throw failure(
          fromFile ? CredentialSource.KEY_FILE : CredentialSource.NONE_FOUND,
          "the lookup failed",
          e);
    }
    CredentialSource source = declaredSource != null ? declaredSource : sourceOf(credentials);
    IdTokenProvider provider;
    if (source == CredentialSource.UNSUPPORTED) {
      throw failure(
          CredentialSource.UNSUPPORTED, "found " + credentials.getClass().getSimpleName(), null);
    } else if (credentials instanceof ExternalAccountCredentials external) {
      provider = federatedIdTokens(external);
    } else if (credentials instanceof IdTokenProvider idTokenProvider) {
      provider = idTokenProvider;
    } else {
      throw failure(
          CredentialSource.UNSUPPORTED, "found " + credentials.getClass().getSimpleName(), null);
    }
    IdTokenCredentials idTokens =
        IdTokenCredentials.newBuilder()
            .setIdTokenProvider(provider)
            .setTargetAudience(audience)
            .setOptions(OPTIONS)
            .build();
    resolved = new Resolved(source, idTokens);
    return resolved;
  }

  static CredentialSource sourceOf(GoogleCredentials credentials) {
    if (credentials instanceof ExternalAccountCredentials external) {
      // Without a service account to impersonate, the federated identity is no service account:
      // the guard accepts service accounts only.
      return external.getServiceAccountEmail() == null
          ? CredentialSource.UNSUPPORTED
          : CredentialSource.WORKLOAD_IDENTITY_FEDERATION;
    }
    // An end-user login can return an ID token, but for the OAuth client as audience and for a
    // person, not a service account: the function would refuse it, so refuse it here, clearly.
    if (!(credentials instanceof IdTokenProvider) || credentials instanceof UserCredentials) {
      return CredentialSource.UNSUPPORTED;
    }
    if (credentials instanceof ComputeEngineCredentials) {
      return CredentialSource.METADATA_SERVER;
    }
    if (credentials instanceof ImpersonatedCredentials) {
      return CredentialSource.IMPERSONATION;
    }
    // ServiceAccountCredentials, from GOOGLE_APPLICATION_CREDENTIALS (or the gcloud well-known
    // file when it holds a key).
    return CredentialSource.KEY_FILE;
  }

  /**
   * google-auth-library's external accounts mint access tokens, not ID tokens. An ID token for the
   * service account the configuration names comes from IAM's generateIdToken, called, as {@link
   * ImpersonatedCredentials} calls it, with the federated token of the same configuration stripped
   * of its impersonation: so the federated principal needs permission to mint ID tokens for the
   * account, and the account needs none on itself.
   */
  private ImpersonatedCredentials federatedIdTokens(ExternalAccountCredentials external)
      throws IdTokenException {
    ExternalAccountCredentials federated;
    if (external instanceof IdentityPoolCredentials pool) {
      federated = pool.toBuilder().setServiceAccountImpersonationUrl(null).build();
    } else if (external instanceof AwsCredentials aws) {
      federated = aws.toBuilder().setServiceAccountImpersonationUrl(null).build();
    } else if (external instanceof PluggableAuthCredentials pluggable) {
      federated = pluggable.toBuilder().setServiceAccountImpersonationUrl(null).build();
    } else {
      throw failure(
          CredentialSource.UNSUPPORTED, "found " + external.getClass().getSimpleName(), null);
    }
    ImpersonatedCredentials.Builder idTokens =
        ImpersonatedCredentials.newBuilder()
            .setSourceCredentials(federated)
            .setTargetPrincipal(external.getServiceAccountEmail())
            .setScopes(List.of(CLOUD_PLATFORM_SCOPE));
    if (iamTransport != null) {
      idTokens.setHttpTransportFactory(iamTransport);
    }
    return idTokens.build();
  }

  private IdTokenException failure(CredentialSource source, String what, Throwable cause) {
    String where = null;
    if (source == CredentialSource.METADATA_SERVER) {
      where = ComputeEngineCredentials.getMetadataServerUrl();
    } else if (source == CredentialSource.KEY_FILE
        || source == CredentialSource.WORKLOAD_IDENTITY_FEDERATION) {
      where = environment.apply(CREDENTIALS_ENV);
    }
    return Failures.failure(source, where, audience, what, cause);
  }

  private static BackOff newBackOff() {
    return new ExponentialBackOff.Builder()
        .setInitialIntervalMillis(200)
        .setMultiplier(2.0)
        .setMaxIntervalMillis(5_000)
        .setRandomizationFactor(0.2)
        // The deadline is enforced by the caller's clock; this only shapes the intervals.
        .setMaxElapsedTimeMillis(Integer.MAX_VALUE)
        .build();
  }

  private static long nextBackOffMillis(BackOff backOff) {
    try {
      return backOff.nextBackOffMillis();
    } catch (IOException e) {
      return BackOff.STOP;
    }
  }

  private void pause(long millis, CredentialSource source, Throwable lastFailure)
      throws IdTokenException {
    try {
      sleeper.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw failure(source, "interrupted while waiting to retry", lastFailure);
    }
  }
}
