package dev.invokerguard.client;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The {@code invoke} command: calls a protected function with an ID token from Application Default
 * Credentials and prints the status line and the body.
 *
 * <pre>
 * java -jar invoke.jar URL [--data JSON] [--audience AUD] [--header NAME:VALUE]...
 *                         [--authorization-only]
 * </pre>
 *
 * <p>The token goes in {@code Authorization} and in {@code X-Serverless-Authorization} (see {@link
 * IdTokenAuthenticator} for why); {@code --authorization-only} sends {@code Authorization} alone.
 *
 * <p>Without {@code --data} it sends a GET; with it, a POST of the JSON with {@code Content-Type:
 * application/json}. The audience defaults to the URL without its query and fragment (and without a
 * bare trailing {@code /}). Plain {@code http} is refused (exit {@value #EXIT_USAGE}, before any
 * token is fetched) unless the host is loopback ({@code localhost}, {@code 127.0.0.0/8}, {@code
 * [::1]}): an ID token sent in clear text could be replayed by anyone on the path. Exit codes:
 * {@value #EXIT_OK} for a 2xx answer, {@value #EXIT_HTTP_ERROR} for any other status, {@value
 * #EXIT_USAGE} for a usage error, {@value #EXIT_NO_CREDENTIALS} when no ID token could be obtained,
 * {@value #EXIT_UNREACHABLE} when the URL could not be reached.
 */
public final class Invoke {

  /** The function answered 2xx. */
  public static final int EXIT_OK = 0;

  /** The function answered with a status other than 2xx (4xx, 5xx, or an unfollowed 3xx). */
  public static final int EXIT_HTTP_ERROR = 1;

  /** The command line was wrong. */
  public static final int EXIT_USAGE = 2;

  /** No ID token could be obtained: the message on stderr names the source and the fix. */
  public static final int EXIT_NO_CREDENTIALS = 3;

  /** The URL could not be reached (connection refused, timeout, name not resolved). */
  public static final int EXIT_UNREACHABLE = 4;

  static final String USAGE =
      """
      Usage: java -jar invoke.jar URL [--data JSON] [--audience AUD] [--header NAME:VALUE]...
                                  [--authorization-only]

      Calls URL with an ID token from Application Default Credentials (metadata server on
      GKE/GCE, GOOGLE_APPLICATION_CREDENTIALS key file, impersonation, or Workload Identity
      Federation) in "Authorization: Bearer <token>" and in "X-Serverless-Authorization:
      Bearer <token>", then prints the status line and the response body. URL must be https;
      plain http is allowed only for loopback (localhost, 127.0.0.0/8, [::1]).

        --data JSON           POST this JSON (Content-Type: application/json); default is GET
        --audience AUD        the token's audience; default: URL without query, fragment
                              and a bare trailing "/"
        --header NAME:VALUE   an extra request header (repeatable; not the two token headers)
        --authorization-only  send the token in Authorization only, not also in
                              X-Serverless-Authorization
        --help                this text

      Exit codes: 0 on 2xx, 1 on any other HTTP status, 2 on a usage error,
      3 when no ID token could be obtained, 4 when the URL could not be reached.
      """;

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(70);
  private static final Pattern IPV4_LITERAL = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");

  /** Builders of authenticators, by audience; the command line adds its own options. */
  private final Function<String, IdTokenAuthenticator.Builder> authenticators;

  private final HttpClient http;

  Invoke(Function<String, IdTokenAuthenticator.Builder> authenticators, HttpClient http) {
    this.authenticators = authenticators;
    this.http = http;
  }

  /**
   * Runs the command and exits the JVM with its exit code.
   *
   * @param args the command line
   */
  public static void main(String[] args) {
    HttpClient http =
        HttpClient.newBuilder()
            .connectTimeout(CONNECT_TIMEOUT)
            // Redirects are not followed: the token is for this URL's audience only.
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
    int code =
        new Invoke(audience -> IdTokenAuthenticator.builder().audience(audience), http)
            .run(args, System.out, System.err);
    System.out.flush();
    System.exit(code);
  }

  /** The parsed command line. */
  record Arguments(
      URI url, String data, String audience, List<String[]> headers, boolean authorizationOnly) {}

  /** A command line that cannot be run; the message says why. */
  static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message, null, false, false);
    }
  }

  int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0 || List.of(args).contains("--help") || List.of(args).contains("-h")) {
      (args.length == 0 ? err : out).print(USAGE);
      return args.length == 0 ? EXIT_USAGE : EXIT_OK;
    }
    Arguments arguments;
    try {
      arguments = parse(args);
    } catch (UsageException e) {
      err.println("invoke: " + e.getMessage());
      err.println("Run with --help for usage.");
      return EXIT_USAGE;
    }
    HttpRequest.Builder request = HttpRequest.newBuilder(arguments.url()).timeout(REQUEST_TIMEOUT);
    for (String[] header : arguments.headers()) {
      try {
        request.header(header[0], header[1]);
      } catch (IllegalArgumentException e) {
        err.println("invoke: header " + header[0] + " cannot be set: " + e.getMessage());
        return EXIT_USAGE;
      }
    }
    if (arguments.data() != null) {
      request
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(arguments.data(), StandardCharsets.UTF_8));
    }
    IdTokenAuthenticator.Builder authenticator = authenticators.apply(arguments.audience());
    if (arguments.authorizationOnly()) {
      authenticator.authorizationHeaderOnly();
    }
    try {
      authenticator.build().authorize(request);
    } catch (IdTokenException e) {
      err.println("invoke: " + e.getMessage());
      return EXIT_NO_CREDENTIALS;
    }
    HttpResponse<String> response;
    try {
      response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      err.println("invoke: could not reach " + arguments.url() + ": " + Failures.detail(e));
      return EXIT_UNREACHABLE;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("invoke: interrupted");
      return EXIT_UNREACHABLE;
    }
    out.println(statusLine(response));
    String body = response.body();
    if (!body.isEmpty()) {
      out.print(body);
      if (!body.endsWith("\n")) {
        out.println();
      }
    }
    int status = response.statusCode();
    return status >= 200 && status < 300 ? EXIT_OK : EXIT_HTTP_ERROR;
  }

  static Arguments parse(String[] args) throws UsageException {
    String url = null;
    String data = null;
    String audience = null;
    List<String[]> headers = new ArrayList<>();
    boolean authorizationOnly = false;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      switch (arg) {
        case "--data" -> data = value(args, ++i, arg);
        case "--audience" -> audience = value(args, ++i, arg);
        case "--header" -> headers.add(header(value(args, ++i, arg)));
        case "--authorization-only" -> authorizationOnly = true;
        default -> {
          if (arg.startsWith("-")) {
            throw new UsageException("unknown option " + arg);
          }
          if (url != null) {
            throw new UsageException("more than one URL: " + url + " and " + arg);
          }
          url = arg;
        }
      }
    }
    if (url == null) {
      throw new UsageException("a URL is required");
    }
    URI uri = parseUrl(url);
    String effectiveAudience = audience != null ? audience : defaultAudience(uri);
    if (effectiveAudience.isEmpty()) {
      throw new UsageException("--audience must not be empty");
    }
    return new Arguments(uri, data, effectiveAudience, List.copyOf(headers), authorizationOnly);
  }

  /**
   * The audience a function checks is its URL; the query and fragment are not part of it. The path
   * is kept, as a Cloud Functions URL names the function in its path, except a bare "/": {@code
   * http://host/} and {@code http://host} are the same URL (RFC 3986 section 6.2.3), and functions
   * list the form without the slash.
   */
  static String defaultAudience(URI url) {
    // Raw parts, as typed: re-encoding would change the string the function compares with.
    String path = url.getRawPath() == null || url.getRawPath().equals("/") ? "" : url.getRawPath();
    return url.getScheme() + "://" + url.getRawAuthority() + path;
  }

  private static URI parseUrl(String url) throws UsageException {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new UsageException("not a URL: " + url);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!(scheme.equals("http") || scheme.equals("https")) || uri.getRawAuthority() == null) {
      throw new UsageException("not an http(s) URL: " + url);
    }
    if (uri.getRawUserInfo() != null) {
      throw new UsageException("user info in the URL is not supported: " + url);
    }
    if (scheme.equals("http") && !isLoopback(uri.getHost())) {
      // An ID token is a bearer credential valid for up to an hour: in clear text, anyone on the
      // path could replay it. Checked here, before any credentials are asked for a token.
      throw new UsageException(
          "refusing to send an ID token over plain http to "
              + uri.getRawAuthority()
              + ": use https (http is allowed only for loopback: localhost, 127.0.0.0/8, [::1])");
    }
    return uri;
  }

  /**
   * Whether {@code host} is certainly this machine: {@code localhost}, or an IP literal in the
   * loopback range. Names other than {@code localhost} are not resolved (a name's address can
   * change between this check and the request), so they count as remote.
   */
  static boolean isLoopback(String host) {
    if (host == null) {
      return false;
    }
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    boolean ipv6 = host.startsWith("[") && host.endsWith("]");
    if (!ipv6 && !IPV4_LITERAL.matcher(host).matches()) {
      return false;
    }
    try {
      // A literal: InetAddress parses it without a name lookup.
      return InetAddress.getByName(ipv6 ? host.substring(1, host.length() - 1) : host)
          .isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false; // not a valid literal (e.g. 999.1.1.1)
    }
  }

  private static String value(String[] args, int index, String option) throws UsageException {
    if (index >= args.length) {
      throw new UsageException(option + " needs a value");
    }
    return args[index];
  }

  private static String[] header(String spec) throws UsageException {
    int colon = spec.indexOf(':');
    if (colon <= 0) {
      throw new UsageException("--header must be NAME:VALUE, was " + spec);
    }
    String name = spec.substring(0, colon).trim();
    String value = spec.substring(colon + 1).trim();
    for (String tokenHeader :
        List.of(
            IdTokenAuthenticator.AUTHORIZATION, IdTokenAuthenticator.SERVERLESS_AUTHORIZATION)) {
      if (name.equalsIgnoreCase(tokenHeader)) {
        throw new UsageException("--header " + tokenHeader + " is not allowed: invoke sets it");
      }
    }
    return new String[] {name, value};
  }

  private static String statusLine(HttpResponse<?> response) {
    String version = response.version() == HttpClient.Version.HTTP_2 ? "HTTP/2" : "HTTP/1.1";
    return version + " " + response.statusCode();
  }
}
