package dev.invokerguard.standin;

import static com.google.common.truth.Truth.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.invokerguard.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class IamPolicyTest {
  private static final String ALICE = "serviceAccount:alice@p.iam.gserviceaccount.com";
  private final MutableClock clock = MutableClock.of(Instant.parse("2030-01-01T00:00:00Z"));
  private final IamPolicy policy = new IamPolicy(clock);

  private static JsonObject json(String text) {
    return JsonParser.parseString(text).getAsJsonObject();
  }

  @Test
  void set_withCurrentEtag_storesAndChangesTheBase64Etag() {
    JsonObject stored =
        policy.set(
            json(
                "{\"etag\":\"ACAB\",\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":[\""
                    + ALICE
                    + "\"]}]}"));
    String etag = stored.get("etag").getAsString();
    assertThat(etag).isNotEqualTo(IamPolicy.EMPTY_ETAG);
    assertThat(Base64.getDecoder().decode(etag)).isNotEmpty();
    assertThat(
            policy.grants(
                "roles/run.invoker",
                ALICE.toUpperCase().replace("SERVICEACCOUNT", "serviceAccount"),
                clock.instant()))
        .isTrue();
  }

  @Test
  void set_withStaleEtag_is409Aborted() {
    policy.set(json("{\"etag\":\"ACAB\"}"));
    ApiException e =
        assertThrows(ApiException.class, () -> policy.set(json("{\"etag\":\"ACAB\"}")));
    assertThat(e.code).isEqualTo(409);
    assertThat(e.status).isEqualTo("ABORTED");
  }

  @Test
  void conditionalBinding_needsVersion3_andGrantsNothing() {
    String conditional =
        "\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":[\""
            + ALICE
            + "\"],"
            + "\"condition\":{\"title\":\"t\",\"expression\":\"true\"}}]";
    ApiException e =
        assertThrows(ApiException.class, () -> policy.set(json("{" + conditional + "}")));
    assertThat(e.code).isEqualTo(400);
    policy.set(json("{\"version\":3," + conditional + "}"));
    assertThat(policy.grants("roles/run.invoker", ALICE, clock.instant())).isFalse();
    assertThrows(ApiException.class, () -> policy.get(1));
    assertThat(policy.get(3).get("version").getAsInt()).isEqualTo(3);
  }

  @Test
  void grants_seesThePolicyAsItWasAtTheGivenTime() {
    Instant before = clock.instant();
    clock.advance(Duration.ofSeconds(1));
    policy.set(
        json("{\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":[\"" + ALICE + "\"]}]}"));
    assertThat(policy.grants("roles/run.invoker", ALICE, before)).isFalse();
    assertThat(policy.grants("roles/run.invoker", ALICE, clock.instant())).isTrue();
  }

  @Test
  void set_withUnknownMemberKind_is400() {
    ApiException e =
        assertThrows(
            ApiException.class,
            () ->
                policy.set(
                    json("{\"bindings\":[{\"role\":\"r\",\"members\":[\"alice@example.com\"]}]}")));
    assertThat(e.code).isEqualTo(400);
  }
}
