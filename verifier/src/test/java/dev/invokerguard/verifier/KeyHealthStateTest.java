package dev.invokerguard.verifier;

import static com.google.common.truth.Truth.assertThat;

import dev.invokerguard.verifier.KeyHealthState.Phase;
import dev.invokerguard.verifier.KeyHealthState.Step;
import java.net.ConnectException;
import java.net.URI;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link KeyHealthState}'s transitions as the pure functions they are: a state, an outcome, a set
 * and an instant in, the next state and the events out. How the cache applies them (once, in order,
 * to a listener) is {@link KeyHealthTest}'s.
 */
final class KeyHealthStateTest {
  private static final URI JWKS = URI.create("http://127.0.0.1:1/certs");
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final Instant EXPIRES_AT = T0.plusSeconds(3600);
  private static final Instant USABLE_UNTIL = EXPIRES_AT.plusSeconds(7200);
  private static final KeyFetchException HTTP_503 =
      new KeyFetchException(KeyFetchOutcome.HTTP_STATUS, "HTTP 503");

  private static KeySet set;

  @BeforeAll
  static void generateKey() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    RSAPublicKey key = (RSAPublicKey) generator.generateKeyPair().getPublic();
    set =
        KeySet.of(
            Map.of("a", key),
            T0,
            Duration.ofSeconds(3600),
            Duration.ofMinutes(5),
            Duration.ofSeconds(7200));
  }

  private static KeyHealthState healthy() {
    return KeyHealthState.initial(JWKS).afterSuccess(set, T0).next();
  }

  @Test
  void firstSuccess_loaded() {
    Step step = KeyHealthState.initial(JWKS).afterSuccess(set, T0);

    assertThat(step.next().phase()).isEqualTo(Phase.HEALTHY);
    KeyHealthEvent event = only(step);
    assertThat(event.health()).isEqualTo(KeyHealth.LOADED);
    assertThat(event.jwksUri()).isEqualTo(JWKS);
    assertThat(event.keyCount()).isEqualTo(1);
    assertThat(event.usableFor()).isEqualTo(Duration.between(T0, USABLE_UNTIL));
  }

  @Test
  void successWhileHealthy_reportsNothing() {
    Step step = healthy().afterSuccess(set, T0.plusSeconds(3300));

    assertThat(step.events()).isEmpty();
    assertThat(step.next().phase()).isEqualTo(Phase.HEALTHY);
  }

  @Test
  void firstFailureWhileFresh_fetchFailedWithItsCause() {
    Instant now = T0.plusSeconds(3300);

    Step step = healthy().afterFailure(KeyFetchOutcome.HTTP_STATUS, HTTP_503, set, now);

    assertThat(step.next().phase()).isEqualTo(Phase.FETCH_FAILED);
    KeyHealthEvent event = only(step);
    assertThat(event.health()).isEqualTo(KeyHealth.FETCH_FAILED);
    assertThat(event.fetchOutcome()).hasValue(KeyFetchOutcome.HTTP_STATUS);
    assertThat(event.detail()).hasValue("HTTP 503");
    assertThat(event.exceptionClass()).isEmpty();
    assertThat(event.failedFetches()).isEqualTo(1);
    assertThat(event.keyAge()).hasValue(Duration.ofSeconds(3300));
    assertThat(event.usableFor()).isEqualTo(Duration.between(now, USABLE_UNTIL));
  }

  @Test
  void firstFailureAlreadyPastExpiry_fetchFailedThenStaleInUse() {
    Step step =
        healthy()
            .afterFailure(
                KeyFetchOutcome.IO_ERROR, new ConnectException("refused"), set, EXPIRES_AT);

    assertThat(step.next().phase()).isEqualTo(Phase.STALE_IN_USE);
    assertThat(step.events().stream().map(KeyHealthEvent::health))
        .containsExactly(KeyHealth.FETCH_FAILED, KeyHealth.STALE_IN_USE)
        .inOrder();
    // Another exception than the verifier's own: its class, never its message.
    assertThat(step.events().get(0).exceptionClass()).hasValue("java.net.ConnectException");
    assertThat(step.events().get(0).detail()).isEmpty();
  }

  @Test
  void laterFailuresOfARun_onlyCount() {
    KeyHealthState failing =
        healthy()
            .afterFailure(KeyFetchOutcome.HTTP_STATUS, HTTP_503, set, T0.plusSeconds(3300))
            .next();

    Step step =
        failing.afterFailure(KeyFetchOutcome.HTTP_STATUS, HTTP_503, set, T0.plusSeconds(3400));

    assertThat(step.events()).isEmpty();
    assertThat(step.next().failedFetches()).isEqualTo(2);
    assertThat(step.next().firstFailureAt()).isEqualTo(T0.plusSeconds(3300));
  }

  @Test
  void firstFetchFails_unusableOnceThenRecoveredWithTheRun() {
    Instant first = T0;
    Step unusable =
        KeyHealthState.initial(JWKS).afterFailure(KeyFetchOutcome.TIMEOUT, null, null, first);
    Step again =
        unusable.next().afterFailure(KeyFetchOutcome.TIMEOUT, null, null, T0.plusSeconds(10));
    Step recovered = again.next().afterSuccess(set, T0.plusSeconds(25));

    KeyHealthEvent unusableEvent = only(unusable);
    assertThat(unusableEvent.health()).isEqualTo(KeyHealth.UNUSABLE);
    assertThat(unusableEvent.keyCount()).isEqualTo(0);
    assertThat(unusableEvent.keyAge()).isEmpty();
    assertThat(unusableEvent.usableFor()).isEqualTo(Duration.ZERO);
    assertThat(again.events()).isEmpty();
    KeyHealthEvent recoveredEvent = only(recovered);
    assertThat(recoveredEvent.health()).isEqualTo(KeyHealth.RECOVERED);
    assertThat(recoveredEvent.failedFetches()).isEqualTo(2);
    assertThat(recoveredEvent.outage()).isEqualTo(Optional.of(Duration.ofSeconds(25)));
    assertThat(recovered.next()).isEqualTo(healthy());
  }

  @Test
  void asTimePasses_whileFailing_staleAtExpiryThenUnusableAtTheBound() {
    KeyHealthState failing =
        healthy()
            .afterFailure(KeyFetchOutcome.HTTP_STATUS, HTTP_503, set, T0.plusSeconds(3300))
            .next();

    assertThat(failing.asTimePasses(set, EXPIRES_AT.minusNanos(1)).events()).isEmpty();
    Step stale = failing.asTimePasses(set, EXPIRES_AT);
    assertThat(only(stale).health()).isEqualTo(KeyHealth.STALE_IN_USE);
    assertThat(only(stale).fetchOutcome()).isEmpty();
    assertThat(stale.next().asTimePasses(set, USABLE_UNTIL.minusNanos(1)).events()).isEmpty();
    Step unusable = stale.next().asTimePasses(set, USABLE_UNTIL);
    assertThat(only(unusable).health()).isEqualTo(KeyHealth.UNUSABLE);
    assertThat(only(unusable).detail())
        .hasValue("the keys in use passed their expiry plus the staleness bound");
    assertThat(unusable.next().asTimePasses(set, USABLE_UNTIL.plusSeconds(60)).events()).isEmpty();
  }

  @Test
  void asTimePasses_whileHealthy_reportsNothingEvenPastTheBound() {
    assertThat(healthy().asTimePasses(set, USABLE_UNTIL.plusSeconds(60)).events()).isEmpty();
    assertThat(KeyHealthState.initial(JWKS).asTimePasses(null, T0).events()).isEmpty();
  }

  private static KeyHealthEvent only(Step step) {
    List<KeyHealthEvent> events = step.events();
    assertThat(events).hasSize(1);
    return events.get(0);
  }
}
