package dev.invokerguard.testing;

import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.IdTokenCredentials;
import com.google.auth.oauth2.IdTokenProvider;
import java.util.List;

/**
 * Run in a child JVM by {@link GoogleAuthLibraryCompatibilityTest}, whose environment sets {@code
 * GCE_METADATA_HOST}: obtains ID tokens through Application Default Credentials exactly as a client
 * in a pod would, and prints them, one per line, as {@code full=...} and {@code standard=...}.
 */
final class AdcIdTokenProbe {

  private AdcIdTokenProbe() {}

  public static void main(String[] args) throws Exception {
    String audience = args[0];
    GoogleCredentials credentials = GoogleCredentials.getApplicationDefault();
    System.out.println("credentials=" + credentials.getClass().getSimpleName());
    for (IdTokenProvider.Option format :
        new IdTokenProvider.Option[] {IdTokenProvider.Option.FORMAT_FULL, null}) {
      IdTokenCredentials idTokens =
          IdTokenCredentials.newBuilder()
              .setIdTokenProvider((IdTokenProvider) credentials)
              .setTargetAudience(audience)
              .setOptions(format == null ? List.of() : List.of(format))
              .build();
      idTokens.refresh();
      System.out.println(
          (format == null ? "standard=" : "full=") + idTokens.getIdToken().getTokenValue());
    }
  }
}
