package dev.invokerguard.testing;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.math.BigInteger;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.interfaces.RSAPublicKey;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A local stand-in for Google's ID-token issuer: it generates RSA-2048 keys in-process, mints
 * Google-shaped ID tokens for any service-account email and audience, and serves its public keys as
 * a JWKS (RFC 7517) over a real HTTP server on 127.0.0.1, on a free port, at {@code
 * /oauth2/v3/certs} — the path and JSON shape of {@code
 * https://www.googleapis.com/oauth2/v3/certs}.
 *
 * <p>This module is for tests and local development only and is never deployed: its keys live in
 * memory and anyone who can reach the port can read them.
 *
 * <pre>{@code
 * try (TestIssuer issuer = TestIssuer.start()) {
 *   String token = issuer.mint("caller@project.iam.gserviceaccount.com", "https://my-function");
 *   // point the code under test at issuer.jwksUri()
 * }
 * }</pre>
 *
 * <p>Like Google, it publishes several keys at once and signs with one of them (the active key);
 * {@link #rotate()} and {@link #unpublish(String)} change the published set, and {@link #jwks()}
 * injects faults into the key endpoint. {@link #startMetadataServer(String)} adds a metadata-server
 * stand-in that hands out this issuer's tokens to google-auth-library clients. Thread-safe.
 */
public final class TestIssuer implements AutoCloseable {

  /** The issuer Google writes into ID tokens, and this issuer's default. */
  public static final String GOOGLE_ISSUER = "https://accounts.google.com";

  /** The path of the key endpoint, as Google serves it. */
  public static final String JWKS_PATH = "/oauth2/v3/certs";

  private final String issuer;
  private final Clock clock;
  private final LoopbackServer server;
  private final JwksEndpoint jwks;

  // Guarded by "this": every key ever made (so unpublished keys still sign), the published kids in
  // publication order, and the kid that mint() signs with.
  private final Map<String, SigningKey> keys = new LinkedHashMap<>();
  private final Set<String> published = new LinkedHashSet<>();
  private String activeKid;
  private final List<MetadataServer> metadataServers = new CopyOnWriteArrayList<>();

  private TestIssuer(Builder builder) {
    this.issuer = builder.issuer;
    this.clock = builder.clock;
    for (int i = 0; i < builder.keyCount; i++) {
      SigningKey key = SigningKey.generate();
      keys.put(key.kid(), key);
      published.add(key.kid());
      if (activeKid == null) {
        activeKid = key.kid();
      }
    }
    this.jwks = new JwksEndpoint(builder.maxAgeSeconds);
    this.server = new LoopbackServer("test-issuer", builder.port);
    server.handle(
        "/",
        exchange -> {
          // Contexts match by prefix; only the exact path is the key endpoint.
          if (exchange.getRequestURI().getPath().equals(JWKS_PATH)) {
            jwks.handle(exchange, this::jwksBytes, server);
          } else {
            LoopbackServer.sendText(exchange, 404, "Not found");
          }
        });
    server.start();
  }

  /**
   * Starts an issuer with the defaults: issuer {@value #GOOGLE_ISSUER}, the system clock, two
   * published keys (the first active) and {@code max-age=3600}.
   *
   * @return a running issuer; close it when done
   */
  public static TestIssuer start() {
    return builder().start();
  }

  /**
   * Returns a builder for an issuer with non-default settings.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Options for a {@link TestIssuer}; every option has a Google-like default. */
  public static final class Builder {
    private String issuer = GOOGLE_ISSUER;
    private Clock clock = Clock.systemUTC();
    private int keyCount = 2;
    private long maxAgeSeconds = 3600;
    private int port;

    private Builder() {}

    /**
     * Sets the loopback port of the key endpoint (default 0: a free port). Tests keep the default;
     * a fixed port is for a documented local run.
     *
     * @param port a port number, or 0
     * @return this builder
     */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    /**
     * Sets the {@code iss} claim of minted tokens (default {@value TestIssuer#GOOGLE_ISSUER}).
     *
     * @param issuer the issuer identifier
     * @return this builder
     */
    public Builder issuer(String issuer) {
      this.issuer = Objects.requireNonNull(issuer, "issuer");
      return this;
    }

    /**
     * Sets the clock that gives minted tokens their {@code iat} and {@code exp} (default the system
     * clock); pass a {@link MutableClock} to control time.
     *
     * @param clock the clock
     * @return this builder
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets how many keys are generated and published at start (default 2, at least 1); the first is
     * the active signing key.
     *
     * @param keyCount the number of keys
     * @return this builder
     */
    public Builder keyCount(int keyCount) {
      this.keyCount = keyCount;
      return this;
    }

    /**
     * Sets the {@code max-age} in the key endpoint's default {@code Cache-Control} header (default
     * 3600 seconds).
     *
     * @param seconds the max-age in seconds, zero or more
     * @return this builder
     */
    public Builder maxAgeSeconds(long seconds) {
      this.maxAgeSeconds = seconds;
      return this;
    }

    /**
     * Generates the keys and starts the HTTP server.
     *
     * @return a running issuer; close it when done
     * @throws IllegalStateException when an option is out of range
     */
    public TestIssuer start() {
      if (keyCount < 1) {
        throw new IllegalStateException("keyCount must be at least 1, was " + keyCount);
      }
      if (port < 0 || port > 65535) {
        throw new IllegalStateException("port out of range: " + port);
      }
      if (maxAgeSeconds < 0) {
        throw new IllegalStateException("maxAgeSeconds must not be negative: " + maxAgeSeconds);
      }
      return new TestIssuer(this);
    }
  }

  /** Returns the issuer identifier written into the {@code iss} claim of minted tokens. */
  public String issuer() {
    return issuer;
  }

  /** Returns the clock minted tokens take their times from. */
  public Clock clock() {
    return clock;
  }

  /** Returns the URI of the key endpoint, {@code http://127.0.0.1:PORT/oauth2/v3/certs}. */
  public URI jwksUri() {
    return server.uri(JWKS_PATH);
  }

  /** Returns the controller of the key endpoint, to inject faults and count requests. */
  public JwksEndpoint jwks() {
    return jwks;
  }

  /**
   * Mints a token shaped like the ID token Google issues to a service account: header {@code
   * {"alg":"RS256","kid":ACTIVE,"typ":"JWT"}}, claims {@code aud}, {@code azp} = email, {@code
   * email}, {@code email_verified} = true, {@code exp} = now + 1 h, {@code iat} = now, {@code iss},
   * {@code sub} = {@link #uniqueIdOf(String) uniqueIdOf(email)}, signed with the active key.
   *
   * @param email the service-account email the token is for
   * @param audience the {@code aud} claim
   * @return the compact JWS (RFC 7515 section 7.1)
   */
  public String mint(String email, String audience) {
    return token().email(email).audience(audience).build();
  }

  /**
   * Starts a token with the same defaults as {@link #mint}, for tests that need to change claims,
   * headers, key or signature. Call {@link TokenBuilder#email} and {@link TokenBuilder#audience}
   * before {@link TokenBuilder#build}.
   *
   * @return a new token builder
   */
  public TokenBuilder token() {
    return new TokenBuilder(this);
  }

  /**
   * Returns the numeric unique ID this issuer uses as {@code sub} for {@code email}: 21 decimal
   * digits, not starting with 0, derived deterministically from the lower-cased email (so the same
   * email has the same ID in every issuer and every run), like the unique ID of a Google service
   * account.
   *
   * @param email a service-account email
   * @return the 21-digit unique ID
   */
  public static String uniqueIdOf(String email) {
    byte[] digest;
    try {
      digest =
          MessageDigest.getInstance("SHA-256")
              .digest(email.toLowerCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JDK", e);
    }
    BigInteger smallest = BigInteger.TEN.pow(20); // 1 followed by 20 zeros: 21 digits
    BigInteger span = BigInteger.TEN.pow(21).subtract(smallest);
    return new BigInteger(1, digest).mod(span).add(smallest).toString();
  }

  /** Returns the ids of the published keys, in publication order. */
  public synchronized List<String> keyIds() {
    return List.copyOf(published);
  }

  /** Returns the id of the key that {@link #mint} signs with. */
  public synchronized String activeKeyId() {
    return activeKid;
  }

  /**
   * Returns the public key of {@code kid}, published or not.
   *
   * @param kid a key id of this issuer
   * @return the RSA public key
   * @throws NoSuchElementException when this issuer has no such key
   */
  public synchronized RSAPublicKey publicKey(String kid) {
    return key(kid).publicKey();
  }

  /**
   * Generates a new key, publishes it and makes it the active signing key; the previously active
   * key stays published, as Google keeps the old key available while tokens signed with it are
   * still valid.
   *
   * @return the id of the new active key
   */
  public String rotate() {
    String kid = addKey();
    synchronized (this) {
      activeKid = kid;
    }
    return kid;
  }

  /**
   * Generates a new key and publishes it without making it active, as Google publishes a key before
   * signing with it.
   *
   * @return the id of the new key
   */
  public String addKey() {
    SigningKey key = SigningKey.generate(); // slow: outside the lock
    synchronized (this) {
      keys.put(key.kid(), key);
      published.add(key.kid());
    }
    return key.kid();
  }

  /**
   * Makes {@code kid} the key that {@link #mint} signs with; it does not publish it.
   *
   * @param kid a key id of this issuer
   * @throws NoSuchElementException when this issuer has no such key
   */
  public synchronized void activate(String kid) {
    activeKid = key(kid).kid();
  }

  /**
   * Removes {@code kid} from the served key set from the next request on. The key still signs (also
   * as the active key, if it is), so tests can produce tokens whose {@code kid} is unknown to the
   * verifier.
   *
   * @param kid a key id of this issuer
   * @throws NoSuchElementException when this issuer has no such key
   */
  public synchronized void unpublish(String kid) {
    published.remove(key(kid).kid());
  }

  /**
   * Adds {@code kid} back to the served key set (at the end).
   *
   * @param kid a key id of this issuer
   * @throws NoSuchElementException when this issuer has no such key
   */
  public synchronized void publish(String kid) {
    published.add(key(kid).kid());
  }

  /** Returns the JWKS document currently served, as JSON text. */
  public String jwksJson() {
    return new String(jwksBytes(), StandardCharsets.UTF_8);
  }

  /**
   * Starts a metadata-server stand-in on its own loopback port that mints this issuer's tokens for
   * {@code serviceAccountEmail}; point google-auth-library at it with {@code
   * GCE_METADATA_HOST=}{@link MetadataServer#host()}. Closing the issuer closes it too.
   *
   * @param serviceAccountEmail the account the metadata server speaks for
   * @return the running metadata server
   */
  public MetadataServer startMetadataServer(String serviceAccountEmail) {
    return startMetadataServer(serviceAccountEmail, 0);
  }

  /**
   * Like {@link #startMetadataServer(String)}, on a fixed loopback port, for a documented local
   * run; tests use the free-port variant.
   *
   * @param serviceAccountEmail the account the metadata server speaks for
   * @param port a port number, or 0 for a free port
   * @return the running metadata server
   */
  public MetadataServer startMetadataServer(String serviceAccountEmail, int port) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port out of range: " + port);
    }
    MetadataServer metadata = new MetadataServer(this, serviceAccountEmail, port);
    metadataServers.add(metadata);
    return metadata;
  }

  /**
   * Stops the HTTP server and every metadata server started from this issuer, promptly, also when
   * requests are waiting out a delay.
   */
  @Override
  public void close() {
    metadataServers.forEach(MetadataServer::close);
    server.close();
  }

  synchronized SigningKey key(String kid) {
    SigningKey key = keys.get(kid);
    if (key == null) {
      throw new NoSuchElementException("this issuer has no key with id " + kid);
    }
    return key;
  }

  synchronized SigningKey activeKey() {
    return keys.get(activeKid);
  }

  private byte[] jwksBytes() {
    List<SigningKey> served = new ArrayList<>();
    synchronized (this) {
      published.forEach(kid -> served.add(keys.get(kid)));
    }
    JsonArray array = new JsonArray();
    served.forEach(key -> array.add(key.toJwk()));
    JsonObject document = new JsonObject();
    document.add("keys", array);
    return document.toString().getBytes(StandardCharsets.UTF_8);
  }
}
