package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link CacheFreshness}: the header details the loopback tests of the cache do not reach. */
final class CacheFreshnessTest {
  private static final Duration DEFAULT = Duration.ofMinutes(5);
  private static final Duration MIN = Duration.ofSeconds(10);
  private static final Duration MAX = Duration.ofHours(24);

  @Test
  void ttl_maxAgeOnOneOfSeveralFieldLines_used() {
    assertThat(ttl(List.of("public", "max-age=600, must-revalidate"), List.of()))
        .isEqualTo(Duration.ofSeconds(600));
  }

  @Test
  void ttl_directiveNamesCaseInsensitiveAndQuotedArgumentAccepted() {
    assertThat(ttl(List.of("MAX-AGE=\"600\""), List.of())).isEqualTo(Duration.ofSeconds(600));
  }

  @Test
  void ttl_commaInsideQuotedString_doesNotSplitDirectives() {
    assertThat(ttl(List.of("private=\"a, max-age=9\", max-age=600"), List.of()))
        .isEqualTo(Duration.ofSeconds(600));
  }

  @Test
  void ttl_twoMaxAgeDirectives_staleSoClampedToMinimum() {
    assertThat(ttl(List.of("max-age=600, max-age=700"), List.of())).isEqualTo(MIN);
  }

  @Test
  void ttl_emptyOrSignedMaxAge_staleSoClampedToMinimum() {
    assertThat(ttl(List.of("max-age="), List.of())).isEqualTo(MIN);
    assertThat(ttl(List.of("max-age=-5"), List.of())).isEqualTo(MIN);
    assertThat(ttl(List.of("max-age"), List.of())).isEqualTo(MIN);
  }

  @Test
  void ttl_ageList_firstMemberCounts() {
    assertThat(ttl(List.of("max-age=600"), List.of("100, 500"))).isEqualTo(Duration.ofSeconds(500));
  }

  @Test
  void ttl_invalidAge_ignored() {
    assertThat(ttl(List.of("max-age=600"), List.of("soon"))).isEqualTo(Duration.ofSeconds(600));
    assertThat(ttl(List.of("max-age=600"), List.of("-100"))).isEqualTo(Duration.ofSeconds(600));
  }

  @Test
  void ttl_noCacheWinsOverMaxAge_default() {
    assertThat(ttl(List.of("max-age=600", "No-Cache"), List.of())).isEqualTo(DEFAULT);
  }

  private static Duration ttl(List<String> cacheControl, List<String> age) {
    return CacheFreshness.ttl(cacheControl, age, DEFAULT, MIN, MAX);
  }
}
