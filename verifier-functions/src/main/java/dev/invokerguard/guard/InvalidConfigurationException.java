package dev.invokerguard.guard;

import java.util.Objects;

/**
 * The environment does not configure the guard completely and correctly. The message is one line
 * that starts with the variable's name, e.g. {@code ALLOWED_INVOKERS: entry 'bob@gmail.com' is not
 * a service-account email or numeric unique ID}, so that it can be printed as is at start-up.
 * Thrown only while starting up: a function that cannot read its configuration must not serve.
 */
public final class InvalidConfigurationException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  private final String variable;

  InvalidConfigurationException(String variable, String problem) {
    super(variable + ": " + problem);
    this.variable = Objects.requireNonNull(variable, "variable");
  }

  /** The environment variable at fault. */
  public String variable() {
    return variable;
  }
}
