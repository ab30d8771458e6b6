package dev.invokerguard.verifier;

import java.util.regex.Pattern;

/**
 * The one way this project puts text it did not write (a token's claims, a configuration value)
 * into a message that may reach a log line.
 */
public final class UntrustedText {
  /**
   * Every character that could forge or hide a log line. {@code \p{Cntrl}} alone is ASCII only; C1
   * controls (such as U+0085, a line break to some log readers), line and paragraph separators,
   * format characters (bidirectional overrides) and the lone surrogate a cut can leave count too.
   */
  private static final Pattern UNSAFE = Pattern.compile("[\\p{Cc}\\p{Cf}\\p{Cs}\\p{Zl}\\p{Zp}]");

  /** How many characters of a value a message shows. */
  private static final int MAX_SHOWN = 80;

  private UntrustedText() {}

  /**
   * {@code value} in single quotes, cut after {@value #MAX_SHOWN} characters (marked by {@code
   * ...}), with each unsafe character (see above) replaced by {@code ?}: one short line whatever
   * the value.
   */
  public static String quoted(String value) {
    String shown = value.length() > MAX_SHOWN ? value.substring(0, MAX_SHOWN) + "..." : value;
    return "'" + UNSAFE.matcher(shown).replaceAll("?") + "'";
  }
}
