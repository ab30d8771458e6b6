package dev.invokerguard.client;

import static com.google.common.truth.Truth.assertThat;
import static com.google.common.truth.Truth.assertWithMessage;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.TestIssuer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class InvokeTest {

  private static final String ACCOUNT = "cli@proj-3.iam.gserviceaccount.com";

  private TestIssuer issuer;
  private RecordingServer target;
  private final List<String> audiences = new ArrayList<>();
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeEach
  void start() throws IOException {
    issuer = TestIssuer.start();
    target = new RecordingServer();
  }

  @AfterEach
  void stop() {
    target.close();
    issuer.close();
  }

  /** The CLI with credentials that mint a token for whatever audience it asks for. */
  private int invoke(String... args) {
    return invoke(HttpClient.newHttpClient(), args);
  }

  private int invoke(HttpClient http, String... args) {
    Invoke invoke =
        new Invoke(
            audience -> {
              audiences.add(audience);
              return IdTokenAuthenticator.builder()
                  .audience(audience)
                  .credentials(
                      new ScriptedCredentials().thenToken(issuer.mint(ACCOUNT, audience)),
                      CredentialSource.METADATA_SERVER);
            },
            http);
    return invoke.run(
        args,
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void invoke_2xx_printsStatusAndBody_exitsZero() {
    target.answer(200, "{\"caller\":\"" + ACCOUNT + "\"}");

    int code = invoke(target.uri("/fn").toString());

    assertThat(code).isEqualTo(Invoke.EXIT_OK);
    assertThat(out()).isEqualTo("HTTP/1.1 200\n{\"caller\":\"" + ACCOUNT + "\"}\n");
    RecordingServer.Request request = target.requests().get(0);
    assertThat(request.method()).isEqualTo("GET");
    assertThat(request.authorization()).startsWith("Bearer ey");
  }

  @Test
  void invoke_default_sendsTheSameTokenInBothHeaders() {
    invoke(target.uri("/fn").toString());

    RecordingServer.Request request = target.requests().get(0);
    assertThat(request.authorization()).startsWith("Bearer ey");
    assertThat(request.serverlessAuthorization()).isEqualTo(request.authorization());
  }

  @Test
  void invoke_authorizationOnly_sendsNoServerlessHeader() {
    int code = invoke(target.uri("/fn").toString(), "--authorization-only");

    assertThat(code).isEqualTo(Invoke.EXIT_OK);
    RecordingServer.Request request = target.requests().get(0);
    assertThat(request.authorization()).startsWith("Bearer ey");
    assertThat(request.serverlessAuthorization()).isNull();
  }

  @Test
  void invoke_403_printsStatusAndBody_exitsOne() {
    target.answer(403, "{\"error\":\"forbidden\"}");

    int code = invoke(target.uri("/fn").toString());

    assertThat(code).isEqualTo(Invoke.EXIT_HTTP_ERROR);
    assertThat(out()).startsWith("HTTP/1.1 403\n{\"error\":\"forbidden\"}");
  }

  @Test
  void invoke_500_exitsOne() {
    target.answer(500, "");

    assertThat(invoke(target.uri("/").toString())).isEqualTo(Invoke.EXIT_HTTP_ERROR);
    assertThat(out()).isEqualTo("HTTP/1.1 500\n");
  }

  @Test
  void invoke_defaultAudience_isUrlWithoutQueryAndFragment() {
    URI url = target.uri("/fn/items?x=1&y=2#top");

    invoke(url.toString());

    assertThat(audiences).containsExactly(target.uri("/fn/items").toString());
    assertThat(target.requests().get(0).uri()).isEqualTo("/fn/items?x=1&y=2");
  }

  @Test
  void invoke_defaultAudience_dropsBareTrailingSlash() {
    invoke(target.uri("/?q=1").toString());
    invoke(target.uri("").toString());

    assertThat(audiences).containsExactly(target.uri("").toString(), target.uri("").toString());
  }

  @Test
  void invoke_explicitAudience_isUsed() {
    invoke(target.uri("/fn").toString(), "--audience", "https://fn.example");

    assertThat(audiences).containsExactly("https://fn.example");
  }

  @Test
  void invoke_data_postsJsonWithExtraHeaders() {
    invoke(target.uri("/fn").toString(), "--data", "{\"a\":1}", "--header", "X-Extra: yes");

    RecordingServer.Request request = target.requests().get(0);
    assertThat(request.method()).isEqualTo("POST");
    assertThat(request.contentType()).isEqualTo("application/json");
    assertThat(request.body()).isEqualTo("{\"a\":1}");
    assertThat(request.extra()).isEqualTo("yes");
  }

  @Test
  void invoke_noCredentials_exitsThreeWithSourceAndFix_sendsNothing() {
    Invoke invoke =
        new Invoke(
            audience ->
                IdTokenAuthenticator.builder()
                    .audience(audience)
                    .credentialsLoader(
                        () -> {
                          throw new IOException(
                              "The Application Default Credentials are not available.");
                        })
                    .environment(name -> null),
            HttpClient.newHttpClient());

    int code =
        invoke.run(
            new String[] {target.uri("/fn").toString()},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));

    assertThat(code).isEqualTo(Invoke.EXIT_NO_CREDENTIALS);
    assertThat(err()).contains("none were found");
    assertThat(err()).contains("To fix:");
    assertThat(out()).isEmpty();
    assertThat(target.requests()).isEmpty();
  }

  @Test
  void invoke_unreachable_exitsFour() throws IOException {
    URI url = target.uri("/fn");
    target.close();

    assertThat(invoke(url.toString())).isEqualTo(Invoke.EXIT_UNREACHABLE);
    assertThat(err()).contains("could not reach");
  }

  @Test
  void invoke_help_printsUsage_exitsZero() {
    assertThat(invoke("--help")).isEqualTo(Invoke.EXIT_OK);
    assertThat(out()).contains("Usage: java -jar invoke.jar URL");
  }

  @Test
  void invoke_badCommandLines_exitTwo() {
    assertThat(invoke()).isEqualTo(Invoke.EXIT_USAGE);
    assertThat(invoke("ftp://x/")).isEqualTo(Invoke.EXIT_USAGE);
    assertThat(invoke("http://x/", "--data")).isEqualTo(Invoke.EXIT_USAGE);
    assertThat(invoke("http://x/", "--frobnicate")).isEqualTo(Invoke.EXIT_USAGE);
    assertThat(invoke("http://x/", "--header", "Authorization: Bearer mine"))
        .isEqualTo(Invoke.EXIT_USAGE);
    assertThat(invoke("http://x/", "--header", "x-serverless-authorization: Bearer mine"))
        .isEqualTo(Invoke.EXIT_USAGE);
    assertThat(invoke("http://x/", "--header", "no-colon")).isEqualTo(Invoke.EXIT_USAGE);
    assertThat(audiences).isEmpty();
  }

  /** Issue 12 item 4: a token in clear text to a host off this machine can be replayed. */
  @Test
  void invoke_plainHttpOffLoopback_refusedBeforeAnyToken_exitTwo() {
    // Every request goes to a loopback proxy that records it: were the check missing, the request
    // would end there, never off this machine.
    HttpClient proxied =
        HttpClient.newBuilder()
            .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", target.uri("/").getPort())))
            .build();
    for (String url :
        new String[] {
          "http://192.0.2.1/fn", // TEST-NET-1: never reached, refused before
          "http://example.com/fn",
          "HTTP://example.com/fn",
          "http://10.0.0.1:8080/",
          "http://127.0.0.1.example.com/",
          "http://2130706433/", // 127.0.0.1 as one number: not a literal this check accepts
          "http://localhost.example.com/",
          "http://[2001:db8::1]/",
        }) {
      err.reset();
      assertWithMessage(url).that(invoke(proxied, url)).isEqualTo(Invoke.EXIT_USAGE);
      assertThat(err()).contains("refusing to send an ID token over plain http");
    }
    assertThat(audiences).isEmpty(); // no credentials were even asked for a token
    assertThat(target.requests()).isEmpty();
  }

  @Test
  void parse_plainHttpOnLoopbackOrHttpsAnywhere_accepted() throws Exception {
    for (String url :
        new String[] {
          "http://localhost:8080/fn",
          "http://LOCALHOST/",
          "http://127.0.0.1:9/fn",
          "http://127.3.4.5/",
          "http://[::1]:8080/",
          "https://example.com/fn",
          "https://10.0.0.1/",
        }) {
      assertThat(Invoke.parse(new String[] {url}).url()).isEqualTo(URI.create(url));
    }
  }

  @Test
  void parse_twoUrls_refused() {
    assertThrows(
        Invoke.UsageException.class, () -> Invoke.parse(new String[] {"http://a/", "http://b/"}));
  }
}
