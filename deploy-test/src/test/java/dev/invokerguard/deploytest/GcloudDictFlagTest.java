package dev.invokerguard.deploytest;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * The test's reading of gcloud's dictionary flags matches the examples in gcloud topic escaping.
 */
class GcloudDictFlagTest {

  @Test
  void parse_plainCommas_splitEveryItem() {
    assertThat(GcloudDictFlag.parse("a=1,b=2")).containsExactly("a", "1", "b", "2").inOrder();
  }

  @Test
  void parse_alternateDelimiter_keepsCommasInValues() {
    assertThat(GcloudDictFlag.parse("^:^a=1,2:b=3"))
        .containsExactly("a", "1,2", "b", "3")
        .inOrder();
  }

  @Test
  void parse_multiCharacterDelimiter_isAllowed() {
    assertThat(GcloudDictFlag.parse("^--^a=x-,y--b=z")).containsExactly("a", "x-,y", "b", "z");
  }

  @Test
  void parse_delimiterInsideAValue_breaksTheItemLikeGcloudDoes() {
    // The trap the script avoids: '@' as delimiter splits an email.
    assertThrows(
        IllegalArgumentException.class,
        () -> GcloudDictFlag.parse("^@^ALLOWED_INVOKERS=a@p.iam.gserviceaccount.com@X=1"));
  }
}
