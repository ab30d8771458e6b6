package dev.invokerguard.verifier;

import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/** PLACEHOLDER, replaced by the keycache branch. */
final class JwksKeyCache implements KeySource {
  JwksKeyCache(KeyCacheConfig config) {}

  @Override
  public RSAPublicKey key(String kid, Instant now) throws CallerRejectedException {
    throw new CallerRejectedException(Reason.KEYS_UNAVAILABLE, "placeholder");
  }

  @Override
  public CompletableFuture<Void> prefetch() {
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public void close() {}
}
