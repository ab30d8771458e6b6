package dev.invokerguard.verifier;

import java.lang.System.Logger.Level;

/**
 * Receives the key set's state changes ({@link KeyHealthEvent}): one call per change, never one per
 * request. Set with {@link CallerVerifier.Builder#keyHealthListener}; without one, the verifier
 * logs each change through {@link System.Logger} ({@link #systemLogger()}).
 *
 * <p>Called on the thread that saw the change (a key fetch thread, or a request's thread when the
 * passage of time caused it), one call at a time and in the order of the changes. Keep it short
 * (write a log line, bump a metric): it must not block, and must not call back into the verifier.
 * An exception it throws is ignored; it never changes a decision.
 */
@FunctionalInterface
public interface KeyHealthListener {
  /** One state change of the key set. */
  void keyHealthChanged(KeyHealthEvent event);

  /**
   * The default: each event as one {@link System.Logger} record of the logger named {@code
   * dev.invokerguard.verifier.KeyHealth}, {@code INFO} for {@link KeyHealth#LOADED} and {@link
   * KeyHealth#RECOVERED}, {@code WARNING} for {@link KeyHealth#FETCH_FAILED} and {@link
   * KeyHealth#STALE_IN_USE}, {@code ERROR} for {@link KeyHealth#UNUSABLE}; the text is the key
   * endpoint and {@link KeyHealthEvent#message()}.
   */
  static KeyHealthListener systemLogger() {
    System.Logger log = System.getLogger(KeyHealth.class.getName());
    return event ->
        log.log(
            switch (event.health()) {
              case LOADED, RECOVERED -> Level.INFO;
              case FETCH_FAILED, STALE_IN_USE -> Level.WARNING;
              case UNUSABLE -> Level.ERROR;
            },
            "{0} ({1})",
            event.message(),
            event.jwksUri());
  }
}
