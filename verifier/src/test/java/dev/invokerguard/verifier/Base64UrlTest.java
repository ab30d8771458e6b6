package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Base64UrlTest {
  @Test
  void decode_canonical_roundTripsEveryLength() {
    for (int n = 1; n < 40; n++) {
      byte[] data = new byte[n];
      for (int i = 0; i < n; i++) {
        data[i] = (byte) (i * 37 + n);
      }
      String text = Base64.getUrlEncoder().withoutPadding().encodeToString(data);
      assertThat(Base64Url.decode("x" + text + "y", 1, text.length() + 1)).isEqualTo(data);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"YQ==", "YWI=", "YR", "YWJ", "Y", "a+b/", "ab cd", "ab.c", ""})
  void decode_rejectsPaddingNonCanonicalBitsAndForeignCharacters(String text) {
    assertThrows(IllegalArgumentException.class, () -> Base64Url.decode(text, 0, text.length()));
  }

  @Test
  void decode_shortCanonicalForms_accepted() {
    assertThat(new String(Base64Url.decode("YQ", 0, 2), StandardCharsets.US_ASCII)).isEqualTo("a");
    assertThat(new String(Base64Url.decode("YWI", 0, 3), StandardCharsets.US_ASCII))
        .isEqualTo("ab");
  }

  @Test
  void decode_sameBytesDifferentSpelling_onlyCanonicalAccepted() {
    // "YR" decodes to "a" with the JDK (trailing bits ignored); strict decoding refuses it, so a
    // signature cannot be re-spelled into a different token that still verifies.
    assertThat(Base64.getUrlDecoder().decode("YR"))
        .isEqualTo("a".getBytes(StandardCharsets.US_ASCII));
    assertThrows(IllegalArgumentException.class, () -> Base64Url.decode("YR", 0, 2));
  }
}
