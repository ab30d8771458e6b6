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
    assertThat(policy.get(3).get("version").getAsInt()).isEqualTo(3);
  }

  private static final String BOB = "serviceAccount:bob@q.iam.gserviceaccount.com";
  private static final String CAROL = "serviceAccount:carol@r.iam.gserviceaccount.com";
  private static final String CONDITIONAL =
      "{\"version\":3,\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":[\""
          + ALICE
          + "\"],\"condition\":{\"title\":\"until-june\",\"expression\":\"request.time <"
          + " timestamp('2030-06-01T00:00:00Z')\"}},{\"role\":\"roles/run.invoker\",\"members\":[\""
          + BOB
          + "\"]}]}";

  @Test
  void get_belowVersion3_showsAConditionalBindingAsWithcondRole_withoutTheCondition() {
    policy.set(json(CONDITIONAL));

    JsonObject v1 = policy.get(1);

    assertThat(v1.get("version").getAsInt()).isEqualTo(1);
    assertThat(v1.toString()).doesNotContain("condition");
    assertThat(v1.toString()).doesNotContain("until-june");
    String role = v1.getAsJsonArray("bindings").get(0).getAsJsonObject().get("role").getAsString();
    assertThat(role).matches("roles/run\\.invoker_withcond_[0-9a-f]{20}");
    assertThat(policy.get(3).toString()).contains("until-june");
  }

  @Test
  void set_version1WithEtag_thatOnlyAdds_keepsTheConditions() {
    policy.set(json(CONDITIONAL));
    JsonObject v1 = policy.get(1);
    // What gcloud's add-invoker-policy-binding does: read at version 1, add, write it back.
    v1.getAsJsonArray("bindings").get(1).getAsJsonObject().getAsJsonArray("members").add(ALICE);

    JsonObject stored = policy.set(v1);

    assertThat(stored.get("version").getAsInt()).isEqualTo(3);
    assertThat(policy.get(3).toString()).contains("until-june");
    assertThat(policy.grants("roles/run.invoker", ALICE, clock.instant())).isTrue();
  }

  @Test
  void set_version1WithEtag_thatWouldDropOrChangeAConditionalBinding_is400() {
    policy.set(json(CONDITIONAL));
    JsonObject dropped = policy.get(1);
    dropped.getAsJsonArray("bindings").remove(0);
    JsonObject changed = policy.get(1);
    changed
        .getAsJsonArray("bindings")
        .get(0)
        .getAsJsonObject()
        .getAsJsonArray("members")
        .add(CAROL);
    JsonObject roleDropped = policy.get(1);
    roleDropped.getAsJsonArray("bindings").remove(1);

    for (JsonObject write : new JsonObject[] {dropped, changed, roleDropped}) {
      ApiException e = assertThrows(ApiException.class, () -> policy.set(write));
      assertThat(e.code).isEqualTo(400);
      assertThat(e).hasMessageThat().contains("requires policy version 3");
    }
    assertThat(policy.get(3).toString()).contains("until-june");
  }

  @Test
  void set_version1WithoutEtag_replacesThePolicy_conditionsLost() {
    policy.set(json(CONDITIONAL));
    JsonObject v1 = policy.get(1);
    v1.remove("etag");

    policy.set(v1);

    assertThat(policy.get(3).toString()).doesNotContain("condition");
    assertThat(policy.get(3).toString()).doesNotContain("withcond");
    assertThat(policy.grants("roles/run.invoker", BOB, clock.instant())).isTrue();
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
