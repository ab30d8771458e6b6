package dev.invokerguard.standin;

import static com.google.common.truth.Truth.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PlatformRulesTest {
  @Test
  void serverlessHeader_whenPresent_isTheOneJudged() {
    assertThat(
            PlatformRules.judgedHeader(
                Map.of(
                    "authorization",
                    List.of("Bearer a"),
                    "x-serverless-authorization",
                    List.of("Bearer b"))))
        .isEqualTo(PlatformRules.SERVERLESS_AUTHORIZATION);
    assertThat(PlatformRules.judgedHeader(Map.of("Authorization", List.of("Bearer a"))))
        .isEqualTo(PlatformRules.AUTHORIZATION);
  }

  @Test
  void tokenFromServerlessHeader_reachesTheFunctionWithoutItsSignature() {
    assertThat(
            PlatformRules.forwardedValue(
                "X-Serverless-Authorization",
                "Bearer h.p.sig",
                PlatformRules.SERVERLESS_AUTHORIZATION,
                FrontEndMode.STRIP_SERVERLESS_ONLY))
        .isEqualTo("Bearer h.p.SIGNATURE_REMOVED_BY_GOOGLE");
  }

  @Test
  void authorization_isForwardedAsSent() {
    assertThat(
            PlatformRules.forwardedValue(
                "Authorization",
                "Bearer h.p.sig",
                PlatformRules.SERVERLESS_AUTHORIZATION,
                FrontEndMode.STRIP_SERVERLESS_ONLY))
        .isEqualTo("Bearer h.p.sig");
    assertThat(
            PlatformRules.forwardedValue(
                "Authorization",
                "Bearer h.p.sig",
                PlatformRules.AUTHORIZATION,
                FrontEndMode.STRIP_SERVERLESS_ONLY))
        .isEqualTo("Bearer h.p.sig");
  }

  @Test
  void stripJudged_judgedAuthorization_losesItsSignature_serverlessStrippedAsInA() {
    assertThat(
            PlatformRules.forwardedValue(
                "authorization",
                "Bearer h.p.sig",
                PlatformRules.AUTHORIZATION,
                FrontEndMode.STRIP_JUDGED))
        .isEqualTo("Bearer h.p.SIGNATURE_REMOVED_BY_GOOGLE");
    assertThat(
            PlatformRules.forwardedValue(
                "Authorization",
                "Bearer h.p.sig",
                PlatformRules.SERVERLESS_AUTHORIZATION,
                FrontEndMode.STRIP_JUDGED))
        .isEqualTo("Bearer h.p.sig");
  }

  @Test
  void nothingJudged_everyHeaderForwardedAsSent() {
    for (FrontEndMode mode : FrontEndMode.values()) {
      for (String name : List.of("Authorization", "X-Serverless-Authorization")) {
        assertThat(PlatformRules.forwardedValue(name, "Bearer h.p.sig", null, mode))
            .isEqualTo("Bearer h.p.sig");
      }
    }
  }
}
