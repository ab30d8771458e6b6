package dev.invokerguard.deployplan;

/**
 * Bad input or an unmet prerequisite, found before anything changed: deploy.sh prints {@code
 * deploy.sh: error: MESSAGE} and exits 2.
 */
public final class UsageError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** An error whose message is the one line the operator reads. */
  public UsageError(String message) {
    super(message, null, false, false);
  }
}
