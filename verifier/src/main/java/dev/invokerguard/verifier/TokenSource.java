package dev.invokerguard.verifier;

/**
 * Where the token that decided a request came from, and what the platform had done to the
 * credentials headers: the facts the guard reports (docs/FUNCTION.md, "Which header"), so that a
 * first deploy can tell which behaviour Google's front end showed. Derived from the headers' names
 * and the tokens' last part only; never a token.
 *
 * <p>"Stripped" means the token's signature part is exactly {@code SIGNATURE_REMOVED_BY_GOOGLE};
 * "intact" means it is anything else, which says nothing of whether it verifies.
 */
public enum TokenSource {
  /** The token in {@code Authorization}, intact; no {@code X-Serverless-Authorization}. */
  AUTHORIZATION(BearerHeaders.AUTHORIZATION, "intact", "absent"),
  /** The token in {@code Authorization}, stripped; no {@code X-Serverless-Authorization}. */
  STRIPPED_AUTHORIZATION(BearerHeaders.AUTHORIZATION, "stripped", "absent"),
  /** The token in {@code X-Serverless-Authorization}, intact; {@code Authorization} ignored. */
  SERVERLESS(BearerHeaders.SERVERLESS_AUTHORIZATION, "intact", "intact"),
  /**
   * The token in {@code X-Serverless-Authorization}, stripped, judged alone: there was no {@code
   * Bearer} copy in {@code Authorization}.
   */
  STRIPPED_SERVERLESS(BearerHeaders.SERVERLESS_AUTHORIZATION, "stripped", "stripped"),
  /**
   * The copy in {@code Authorization} of a stripped {@code X-Serverless-Authorization} token,
   * intact: verified in full and matched against the stripped token's caller.
   */
  AUTHORIZATION_BESIDE_STRIPPED(BearerHeaders.AUTHORIZATION, "intact", "stripped"),
  /** Both headers came stripped: no verifiable copy. */
  STRIPPED_AUTHORIZATION_BESIDE_STRIPPED(BearerHeaders.AUTHORIZATION, "stripped", "stripped");

  /** The JSON field that names {@link #header()}, in the guard's bodies and decision lines. */
  public static final String HEADER_FIELD = "tokenHeader";

  /** The JSON field that holds {@link #signature()}. */
  public static final String SIGNATURE_FIELD = "tokenSignature";

  /** The JSON field that holds {@link #serverlessHeader()}. */
  public static final String SERVERLESS_HEADER_FIELD = "serverlessHeader";

  private final String header;
  private final String signature;
  private final String serverlessHeader;
  private final String jsonMembers;

  TokenSource(String header, String signature, String serverlessHeader) {
    this.header = header;
    this.signature = signature;
    this.serverlessHeader = serverlessHeader;
    // Fixed identifiers (letters and '-'): nothing to escape.
    this.jsonMembers =
        String.format(
            "\"%s\":\"%s\",\"%s\":\"%s\",\"%s\":\"%s\"",
            HEADER_FIELD,
            header,
            SIGNATURE_FIELD,
            signature,
            SERVERLESS_HEADER_FIELD,
            serverlessHeader);
  }

  /**
   * The header the deciding token came from: {@code Authorization} or {@code
   * X-Serverless-Authorization} (JSON field {@code tokenHeader}).
   */
  public String header() {
    return header;
  }

  /**
   * The deciding token's signature part: {@code intact} or {@code stripped} ({@code
   * tokenSignature}).
   */
  public String signature() {
    return signature;
  }

  /**
   * What {@code X-Serverless-Authorization} held: {@code absent}, {@code intact} or {@code
   * stripped} ({@code serverlessHeader}).
   */
  public String serverlessHeader() {
    return serverlessHeader;
  }

  /**
   * The three fields as JSON members without braces, {@code "tokenHeader":"…",
   * "tokenSignature":"…","serverlessHeader":"…"}, for a body that adds them to its own.
   */
  public String jsonMembers() {
    return jsonMembers;
  }
}
