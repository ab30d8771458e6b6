package dev.invokerguard.client;

import java.io.IOException;

/**
 * No ID token could be obtained. The message names the {@link #source() credential source} that was
 * tried, what went wrong and what to fix; it never contains a token.
 */
public final class IdTokenException extends IOException {
  private static final long serialVersionUID = 1L;

  private final CredentialSource source;

  IdTokenException(CredentialSource source, String message, Throwable cause) {
    super(message, cause);
    this.source = source;
  }

  /** Returns the credential source that was tried, or {@link CredentialSource#NONE_FOUND}. */
  public CredentialSource source() {
    return source;
  }
}
