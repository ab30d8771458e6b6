package dev.invokerguard.verifier;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URLConnection;

/**
 * Opens the HTTP connection of one key fetch: the HTTP seam of the verifier. The verifier sets
 * everything that makes the fetch safe on the connection it gets (connect and read timeouts, no
 * redirects, no caches, the {@code Accept} header) and then sends the {@code GET}; a connector only
 * decides how to reach the endpoint. At the fetch's deadline the verifier calls {@link
 * HttpURLConnection#disconnect()} from another thread, which must make a blocked read fail (the
 * JDK's connection does).
 *
 * <p>The default, {@link #JDK}, is the JDK's {@link HttpURLConnection}, which honours the standard
 * proxy system properties ({@code https.proxyHost}, ...) and the default trust store. Pass another
 * to {@link CallerVerifier.Builder#keyEndpointConnector} for a proxy that needs more (for example
 * {@code uri -> (HttpURLConnection) uri.toURL().openConnection(proxy)}) or for a custom {@code
 * SSLSocketFactory}.
 *
 * <p>Why the JDK's connection rather than an HTTP library: the key fetch is one {@code GET} every
 * few hours, but the first one is on the cold-start path of every function instance, and loading an
 * HTTP library's classes for it costs more there than the JDK's connection (measured in
 * docs/DESIGN.md).
 */
@FunctionalInterface
public interface KeyEndpointConnector {
  /** {@code uri.toURL().openConnection()}: the JDK's HTTP client, the system's proxy settings. */
  KeyEndpointConnector JDK = KeyEndpointConnector::openWithJdk;

  /**
   * Opens, without connecting yet, a connection to {@code uri}.
   *
   * @param uri the key set's URI ({@link CallerVerifier.Builder#jwksUri}), {@code https} or a
   *     loopback {@code http}
   * @throws IOException when no connection can be opened; the fetch then fails and the key cache
   *     keeps its last good key set
   */
  HttpURLConnection open(URI uri) throws IOException;

  private static HttpURLConnection openWithJdk(URI uri) throws IOException {
    URLConnection connection = uri.toURL().openConnection();
    if (!(connection instanceof HttpURLConnection http)) {
      throw new IOException("not an HTTP URI: " + uri.getScheme());
    }
    return http;
  }
}
