package dev.invokerguard.verifier;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * One change of the key set's state, reported to a {@link KeyHealthListener}. Holds facts about the
 * key set and the fetch only: never the response body, a key or a token.
 *
 * @param health the new state
 * @param at when the change was seen, by the verifier's clock
 * @param jwksUri the key endpoint
 * @param keyCount how many keys the set in use holds; 0 when no set is in use
 * @param keyAge the age of the set in use since it was fetched; empty when none is in use
 * @param usableFor how long the set in use stays usable (until its expiry plus {@link
 *     VerifierSettings#MAX_KEY_STALENESS}); zero when {@link KeyHealth#UNUSABLE}
 * @param fetchOutcome on {@link KeyHealth#FETCH_FAILED}, and on {@link KeyHealth#UNUSABLE} or
 *     {@link KeyHealth#STALE_IN_USE} when a failed fetch caused it: how that fetch failed
 * @param exceptionClass the class name of the exception behind a failed fetch, when there was one
 *     other than the verifier's own classification (never its message, which could quote anything)
 * @param detail a short fixed description of a failed fetch written by the verifier (e.g. {@code
 *     HTTP 503}), or of why the set became unusable
 * @param failedFetches how many fetches failed since the state was last healthy (on {@link
 *     KeyHealth#RECOVERED}, the whole run's; on other events, so far)
 * @param outage on {@link KeyHealth#RECOVERED}: from the first failure of the run to the recovery
 */
public record KeyHealthEvent(
    KeyHealth health,
    Instant at,
    URI jwksUri,
    int keyCount,
    Optional<Duration> keyAge,
    Duration usableFor,
    Optional<KeyFetchOutcome> fetchOutcome,
    Optional<String> exceptionClass,
    Optional<String> detail,
    int failedFetches,
    Optional<Duration> outage) {
  /** Checks that nothing is null. */
  public KeyHealthEvent {
    Objects.requireNonNull(health, "health");
    Objects.requireNonNull(at, "at");
    Objects.requireNonNull(jwksUri, "jwksUri");
    Objects.requireNonNull(keyAge, "keyAge");
    Objects.requireNonNull(usableFor, "usableFor");
    Objects.requireNonNull(fetchOutcome, "fetchOutcome");
    Objects.requireNonNull(exceptionClass, "exceptionClass");
    Objects.requireNonNull(detail, "detail");
    Objects.requireNonNull(outage, "outage");
  }

  /**
   * A short sentence for a human, e.g. {@code signing keys: fetch failed (HTTP_STATUS: HTTP 503);
   * keys in use are 3600 s old and usable for 7200 s more}. Built from this event's fields only.
   */
  public String message() {
    StringBuilder text = new StringBuilder("signing keys: ");
    switch (health) {
      case LOADED ->
          text.append("loaded ")
              .append(keyCount)
              .append(" keys, usable for ")
              .append(usableFor.toSeconds())
              .append(" s");
      case FETCH_FAILED -> text.append("fetch failed").append(cause()).append(inUse());
      case STALE_IN_USE ->
          text.append("past their expiry and still in use while fetches fail")
              .append(cause())
              .append(inUse());
      case UNUSABLE ->
          text.append("none usable")
              .append(cause())
              .append("; requests get 503 until a fetch succeeds");
      case RECOVERED ->
          text.append("recovered after ")
              .append(failedFetches)
              .append(failedFetches == 1 ? " failed fetch" : " failed fetches")
              .append(outage.map(d -> " in " + d.toSeconds() + " s").orElse(""))
              .append("; ")
              .append(keyCount)
              .append(" keys, usable for ")
              .append(usableFor.toSeconds())
              .append(" s");
    }
    return text.toString();
  }

  private String inUse() {
    return keyAge
        .map(
            age ->
                "; keys in use are "
                    + age.toSeconds()
                    + " s old and usable for "
                    + usableFor.toSeconds()
                    + " s more")
        .orElse("");
  }

  private String cause() {
    if (fetchOutcome.isEmpty()) {
      return detail.map(d -> " (" + d + ")").orElse("");
    }
    return " ("
        + fetchOutcome.get().name()
        + detail.map(d -> ": " + d).orElse("")
        + exceptionClass.map(c -> ", " + c).orElse("")
        + ")";
  }
}
