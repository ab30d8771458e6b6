package dev.invokerguard.verifier;

import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Fetches the signer's key set once per call, with no policy: whether and when to fetch, how long a
 * key set stays fresh and what to answer meanwhile are {@link JwksKeyCache}'s. The seam between the
 * two, so that the policy can be tested with a scripted fetcher and the fetch with a loopback
 * server. Production uses {@link HttpKeyFetcher}.
 */
interface KeyFetcher extends AutoCloseable {
  /**
   * Starts one fetch and returns at once.
   *
   * @return completes with the keys, or fails (with a {@link KeyFetchException} whose message can
   *     be logged, or another exception whose class can); completes by the fetch's deadline
   */
  CompletableFuture<FetchedKeys> fetch();

  /** Stops every fetch under way; later calls to {@link #fetch()} fail. */
  @Override
  void close();

  /**
   * What one successful fetch gave.
   *
   * @param keys the usable keys by {@code kid}, never empty
   * @param fetchedAt when the request was sent (RFC 9111 section 4.2.3: the base of its age)
   * @param cacheControl every {@code Cache-Control} field line of the response
   * @param age every {@code Age} field line of the response
   */
  record FetchedKeys(
      Map<String, RSAPublicKey> keys,
      Instant fetchedAt,
      List<String> cacheControl,
      List<String> age) {
    public FetchedKeys {
      keys = Map.copyOf(keys);
      cacheControl = List.copyOf(cacheControl);
      age = List.copyOf(age);
    }
  }
}
