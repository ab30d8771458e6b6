/**
 * Local stand-ins for Google, for tests and local development only; never deployed.
 *
 * <p>{@link dev.invokerguard.testing.TestIssuer} generates RSA keys, mints Google-shaped ID tokens
 * and serves its key set on loopback; {@link dev.invokerguard.testing.JwksEndpoint} injects faults
 * into that key endpoint; {@link dev.invokerguard.testing.MetadataServer} answers
 * google-auth-library's metadata-server requests with the issuer's tokens; {@link
 * dev.invokerguard.testing.MutableClock} lets tests move time.
 */
package dev.invokerguard.testing;
