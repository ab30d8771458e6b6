package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ServiceAccountAllowlistTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        "api-client@client-project.iam.gserviceaccount.com",
        "API-Client@Client-Project.IAM.gserviceaccount.com",
        "123456789012-compute@developer.gserviceaccount.com",
        "my-project@appspot.gserviceaccount.com",
        "service-123@gcp-sa-pubsub.iam.gserviceaccount.com"
      })
  void of_serviceAccountEmail_acceptedAndLowerCased(String email) {
    ServiceAccountAllowlist allowlist = ServiceAccountAllowlist.of(List.of(email));
    assertThat(allowlist.emails()).containsExactly(email.toLowerCase(java.util.Locale.ROOT));
    assertThat(allowlist.uniqueIds()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "alice@gmail.com",
        "alice@example.com",
        "sa@project.iam.gserviceaccount.com.evil.com",
        "sa@gserviceaccount.com",
        "sa@iam.gserviceaccount.com",
        "sa@evil.developer.gserviceaccount.com",
        "*@project.iam.gserviceaccount.com",
        "allUsers",
        "allAuthenticatedUsers",
        "serviceAccount:sa@project.iam.gserviceaccount.com",
        "012345678901234567890",
        "12345",
        "",
        " "
      })
  void of_notAServiceAccount_refusedNamingTheEntry(String entry) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> ServiceAccountAllowlist.of(List.of(entry)));
    assertThat(e).hasMessageThat().contains("'" + entry.strip() + "'");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "\u212Aelvin@project.iam.gserviceaccount.com",
        "SA@PROJECT.\u0130AM.GSERVICEACCOUNT.COM",
        "\u2003sa@project.iam.gserviceaccount.com",
        "sa@project.iam.gserviceaccount.com\u3000",
        "\u2003123456789012345678901"
      })
  void of_nonAscii_refusedEvenWhereLowerCasingOrStrippingWouldMakeItValid(String entry) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> ServiceAccountAllowlist.of(List.of(entry)));
    assertThat(e).hasMessageThat().contains("must be ASCII");
    // The entry is named with its non-ASCII characters escaped, never echoed raw.
    assertThat(e.getMessage().chars().allMatch(c -> c >= 0x20 && c < 0x7F)).isTrue();
    assertThat(ServiceAccountAllowlist.isServiceAccountEmail(entry)).isFalse();
  }

  @Test
  void of_empty_refused() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ServiceAccountAllowlist.of(List.of()));
    assertThat(e).hasMessageThat().contains("empty");
  }

  @Test
  void parse_commaSeparatedWithSpaces_splitsEmailsAndIds() {
    ServiceAccountAllowlist allowlist =
        ServiceAccountAllowlist.parse(
            " a-client@p1.iam.gserviceaccount.com , 104029292853099978293,b@p2.iam.gserviceaccount.com");
    assertThat(allowlist.emails())
        .containsExactly("a-client@p1.iam.gserviceaccount.com", "b@p2.iam.gserviceaccount.com");
    assertThat(allowlist.uniqueIds()).containsExactly("104029292853099978293");
  }

  @Test
  void parse_trailingComma_refusedNotSkipped() {
    assertThrows(
        IllegalArgumentException.class,
        () -> ServiceAccountAllowlist.parse("a-client@p1.iam.gserviceaccount.com,"));
  }

  @Test
  void parse_blank_refusedAsEmpty() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ServiceAccountAllowlist.parse("  "));
    assertThat(e).hasMessageThat().contains("empty");
  }

  @Test
  void check_uniqueIdMatchesSubject_withoutEmail() throws Exception {
    ServiceAccountAllowlist allowlist = ServiceAccountAllowlist.parse("104029292853099978293");
    allowlist.check("104029292853099978293", null, false);
  }

  @Test
  void check_emailCaseInsensitive_whenVerified() throws Exception {
    ServiceAccountAllowlist allowlist =
        ServiceAccountAllowlist.parse("a-client@p1.iam.gserviceaccount.com");
    allowlist.check("111111111111111111111", "A-Client@P1.iam.gserviceaccount.com", true);
  }

  @Test
  void check_emailNotVerified_rejectedAsEmailNotVerified() {
    ServiceAccountAllowlist allowlist =
        ServiceAccountAllowlist.parse("a-client@p1.iam.gserviceaccount.com");
    CallerRejectedException e =
        assertThrows(
            CallerRejectedException.class,
            () ->
                allowlist.check(
                    "111111111111111111111", "a-client@p1.iam.gserviceaccount.com", false));
    assertThat(e.reason()).isEqualTo(Reason.EMAIL_NOT_VERIFIED);
  }

  @Test
  void check_stranger_rejectedAsNotAllowed() {
    ServiceAccountAllowlist allowlist =
        ServiceAccountAllowlist.parse("a-client@p1.iam.gserviceaccount.com,104029292853099978293");
    CallerRejectedException e =
        assertThrows(
            CallerRejectedException.class,
            () ->
                allowlist.check("222222222222222222222", "other@p1.iam.gserviceaccount.com", true));
    assertThat(e.reason()).isEqualTo(Reason.CALLER_NOT_ALLOWED);
    assertThat(e.reason().category()).isEqualTo(Reason.Category.FORBIDDEN);
  }

  @Test
  void check_emailMatchingAnIdEntry_doesNotMatch() {
    // An email is never compared with unique IDs, nor a subject with emails.
    ServiceAccountAllowlist allowlist =
        ServiceAccountAllowlist.parse("a-client@p1.iam.gserviceaccount.com");
    CallerRejectedException e =
        assertThrows(
            CallerRejectedException.class,
            () -> allowlist.check("a-client@p1.iam.gserviceaccount.com", null, false));
    assertThat(e.reason()).isEqualTo(Reason.CALLER_NOT_ALLOWED);
  }

  /**
   * Issue 12 item 5: Unicode lower-casing maps the Kelvin sign (U+212A) to {@code k}, so such an
   * entry used to be stored as an ASCII email. Service-account emails are ASCII: refused at
   * start-up, naming the entry.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "\u212Aate@proj.iam.gserviceaccount.com", // Kelvin sign, lower-cases to "k"
        "ka\u0131e@proj.iam.gserviceaccount.com", // dotless i
        "caller@pro\u017Fj.iam.gserviceaccount.com", // long s
        "caller@proj.iam.gserviceaccount.com\u00A0x",
      })
  void of_nonAsciiEntry_refusedAtStartUp(String entry) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> ServiceAccountAllowlist.of(List.of(entry)));
    assertThat(e).hasMessageThat().contains("ASCII");
  }

  @Test
  void isServiceAccountEmail_kelvinSign_false() {
    assertThat(
            ServiceAccountAllowlist.isServiceAccountEmail("\u212Aate@proj.iam.gserviceaccount.com"))
        .isFalse();
  }

  /** A token email with non-ASCII characters never matches, quietly: CALLER_NOT_ALLOWED. */
  @Test
  void check_tokenEmailWithKelvinSign_doesNotMatchTheAsciiEntry() {
    ServiceAccountAllowlist allowlist =
        ServiceAccountAllowlist.parse("kate@proj.iam.gserviceaccount.com");
    CallerRejectedException e =
        assertThrows(
            CallerRejectedException.class,
            () ->
                allowlist.check(
                    "111111111111111111111", "\u212Aate@proj.iam.gserviceaccount.com", true));
    assertThat(e.reason()).isEqualTo(Reason.CALLER_NOT_ALLOWED);
    assertThat(e).hasMessageThat().doesNotContain("\u212A");
  }
}
