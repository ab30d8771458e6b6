package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static dev.invokerguard.testing.GoogleFixtures.*;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.invokerguard.testing.MutableClock;
import dev.invokerguard.testing.TestIssuer;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Real tokens signed by Google, verified against Google's published key sets served from a loopback
 * server, at a fixed clock inside each token's window.
 */
class RealGoogleTokensTest {
  private final MutableClock clock = new MutableClock(Instant.EPOCH);
  private TestIssuer keyServer;

  @BeforeEach
  void setUp() {
    keyServer = TestIssuer.builder().clock(clock).start();
  }

  @AfterEach
  void tearDown() {
    keyServer.close();
  }

  private CallerVerifier verifier(String keySet, String audience, String allowed) {
    keyServer.jwks().respondWith(200, read(keySet));
    return CallerVerifier.builder()
        .expectedAudiences(audience)
        .allowlist(ServiceAccountAllowlist.parse(allowed))
        .clock(clock)
        .jwksUri(keyServer.jwksUri())
        .build();
  }

  private static Reason rejection(CallerVerifier verifier, String token) {
    return assertThrows(CallerRejectedException.class, () -> verifier.verifyToken(token)).reason();
  }

  @Test
  void federatedToken_insideItsWindow_verifies() throws Exception {
    clock.set(FEDERATED_ISSUED_AT.plusSeconds(600));
    try (CallerVerifier verifier = verifier(FEDERATED_KEYS, FEDERATED_AUDIENCE, SERVICE_ACCOUNT)) {
      VerifiedCaller caller = verifier.verifyToken(read(FEDERATED_TOKEN));
      assertThat(caller.email()).hasValue(SERVICE_ACCOUNT);
      assertThat(caller.subject()).isEqualTo(SERVICE_ACCOUNT_ID);
      assertThat(caller.audience()).isEqualTo(FEDERATED_AUDIENCE);
      assertThat(caller.issuedAt()).isEqualTo(FEDERATED_ISSUED_AT);
      assertThat(caller.expiresAt()).isEqualTo(FEDERATED_ISSUED_AT.plusSeconds(3600));
      assertThat(caller.signatureCheck()).isEqualTo(VerifiedCaller.SignatureCheck.VERIFIED);
    }
  }

  @Test
  void sa2023Token_insideItsWindow_verifiesAlsoByUniqueId() throws Exception {
    clock.set(SA_2023_ISSUED_AT.plusSeconds(1));
    try (CallerVerifier verifier = verifier(SA_2023_KEYS, SA_2023_AUDIENCE, SERVICE_ACCOUNT_ID)) {
      VerifiedCaller caller = verifier.verifyToken(read(SA_2023_TOKEN));
      assertThat(caller.principal()).isEqualTo(SERVICE_ACCOUNT);
      assertThat(caller.subject()).isEqualTo(SERVICE_ACCOUNT_ID);
    }
  }

  @Test
  void federatedToken_expired_rejectedAsExpired() {
    clock.set(FEDERATED_ISSUED_AT.plus(Duration.ofHours(1)).plusSeconds(60));
    try (CallerVerifier verifier = verifier(FEDERATED_KEYS, FEDERATED_AUDIENCE, SERVICE_ACCOUNT)) {
      assertThat(rejection(verifier, read(FEDERATED_TOKEN))).isEqualTo(Reason.EXPIRED);
    }
  }

  @Test
  void federatedToken_beforeItWasIssued_rejectedAsIssuedInFuture() {
    clock.set(FEDERATED_ISSUED_AT.minusSeconds(61));
    try (CallerVerifier verifier = verifier(FEDERATED_KEYS, FEDERATED_AUDIENCE, SERVICE_ACCOUNT)) {
      assertThat(rejection(verifier, read(FEDERATED_TOKEN))).isEqualTo(Reason.ISSUED_IN_FUTURE);
    }
  }

  @Test
  void federatedToken_wrongAudience_rejected() {
    clock.set(FEDERATED_ISSUED_AT.plusSeconds(600));
    try (CallerVerifier verifier =
        verifier(FEDERATED_KEYS, "https://example.com/path/", SERVICE_ACCOUNT)) {
      assertThat(rejection(verifier, read(FEDERATED_TOKEN))).isEqualTo(Reason.WRONG_AUDIENCE);
    }
  }

  @Test
  void federatedToken_notAllowlisted_rejectedAsNotAllowed() {
    clock.set(FEDERATED_ISSUED_AT.plusSeconds(600));
    try (CallerVerifier verifier =
        verifier(
            FEDERATED_KEYS,
            FEDERATED_AUDIENCE,
            "someone-else@chingor-test.iam.gserviceaccount.com")) {
      assertThat(rejection(verifier, read(FEDERATED_TOKEN))).isEqualTo(Reason.CALLER_NOT_ALLOWED);
    }
  }

  @Test
  void federatedToken_tamperedSignature_rejectedAsBadSignature() {
    clock.set(FEDERATED_ISSUED_AT.plusSeconds(600));
    String token = read(FEDERATED_TOKEN);
    int middle = token.lastIndexOf('.') + 100;
    char flipped = token.charAt(middle) == 'A' ? 'B' : 'A';
    String tampered = token.substring(0, middle) + flipped + token.substring(middle + 1);
    try (CallerVerifier verifier = verifier(FEDERATED_KEYS, FEDERATED_AUDIENCE, SERVICE_ACCOUNT)) {
      assertThat(rejection(verifier, tampered)).isEqualTo(Reason.BAD_SIGNATURE);
    }
  }

  @Test
  void federatedToken_tamperedPayload_rejectedAsBadSignature() {
    clock.set(FEDERATED_ISSUED_AT.plusSeconds(600));
    String[] parts = read(FEDERATED_TOKEN).split("\\.");
    String otherPayload = read(SA_2023_TOKEN).split("\\.")[1];
    try (CallerVerifier verifier = verifier(FEDERATED_KEYS, FEDERATED_AUDIENCE, SERVICE_ACCOUNT)) {
      assertThat(rejection(verifier, parts[0] + "." + otherPayload + "." + parts[2]))
          .isEqualTo(Reason.BAD_SIGNATURE);
    }
  }

  @Test
  void federatedToken_againstAKeySetWithoutItsKid_rejectedAsUnknownKeyId() {
    clock.set(FEDERATED_ISSUED_AT.plusSeconds(600));
    try (CallerVerifier verifier = verifier(SA_2023_KEYS, FEDERATED_AUDIENCE, SERVICE_ACCOUNT)) {
      assertThat(rejection(verifier, read(FEDERATED_TOKEN))).isEqualTo(Reason.UNKNOWN_KEY_ID);
    }
  }

  @Test
  void tokenWhoseKeySetIsUnknown_rejectedAsUnknownKeyId() {
    clock.set(Instant.ofEpochSecond(1660877073L + 60));
    try (CallerVerifier verifier =
        verifier(
            FEDERATED_KEYS,
            "https://cloudtasks.googleapis.com/v2/projects/gcloud-devel/locations",
            "stim-test@stellar-day-254222.iam.gserviceaccount.com")) {
      assertThat(rejection(verifier, read(NO_KEYSET_TOKEN))).isEqualTo(Reason.UNKNOWN_KEY_ID);
    }
  }

  @Test
  void iapEs256Assertion_rejectedAsUnsupportedAlgorithm() {
    clock.set(Instant.ofEpochSecond(1584047020L));
    try (CallerVerifier verifier = verifier(FEDERATED_KEYS, FEDERATED_AUDIENCE, SERVICE_ACCOUNT)) {
      assertThat(rejection(verifier, read(IAP_ES256_TOKEN)))
          .isEqualTo(Reason.UNSUPPORTED_ALGORITHM);
    }
  }
}
