package dev.invokerguard.deploytest;

import com.google.gson.JsonObject;
import java.util.List;

/**
 * The guard's key-health lines (issue 15 item 1) for the monitoring filter tests.
 *
 * <p>FOR NOW A FIXTURE, generated from the agreed contract (the shared KEY-HEALTH-LINES contract,
 * summarised in docs/FUNCTION.md), because the guard on this branch does not write them yet. Once
 * the guard writes them, {@link #of} returns the function's own lines instead: replace its body
 * with the one-line {@code return keyHealthLinesIn(functionStdout);} so every filter is checked
 * against the real lines.
 */
final class KeyHealthLines {
  private static final String JWKS = "https://www.googleapis.com/oauth2/v3/certs";

  private KeyHealthLines() {}

  /**
   * The key-health lines to check the filters against, given every stdout line of real guards run
   * through a key set's life (first load, then a key endpoint failing from the start).
   */
  static List<String> of(List<String> functionStdout) {
    return fromContract();
  }

  /** The lines of {@code stdout} that are key-health lines. */
  static List<String> keyHealthLinesIn(List<String> stdout) {
    return stdout.stream().filter(line -> line.contains("\"keyHealth\"")).toList();
  }

  /** One line of each kind, shaped as the contract says. */
  static List<String> fromContract() {
    return List.of(
        line("LOADED", "INFO", "signing keys: loaded 2 keys", 2, 0L, 21600L, null),
        line(
            "FETCH_FAILED",
            "WARNING",
            "signing keys: fetch failed (HTTP_STATUS); keys in use are 3600 s old and usable for"
                + " 7200 s more",
            2,
            3600L,
            7200L,
            "HTTP_STATUS"),
        line(
            "STALE_IN_USE",
            "WARNING",
            "signing keys: past their expiry, still used for 3600 s more",
            2,
            25200L,
            3600L,
            null),
        line(
            "UNUSABLE",
            "ERROR",
            "signing keys: none usable (TIMEOUT); requests get 503",
            null,
            null,
            0L,
            "TIMEOUT"),
        recovered());
  }

  private static String line(
      String state,
      String severity,
      String message,
      Integer keyCount,
      Long age,
      Long usableFor,
      String fetchOutcome) {
    JsonObject line = new JsonObject();
    line.addProperty("severity", severity);
    line.addProperty("message", message);
    line.addProperty("keyHealth", state);
    line.addProperty("jwksUri", JWKS);
    if (keyCount != null) {
      line.addProperty("keyCount", keyCount);
    }
    if (age != null) {
      line.addProperty("keyAgeSeconds", age);
    }
    if (usableFor != null) {
      line.addProperty("usableForSeconds", usableFor);
    }
    if (fetchOutcome != null) {
      line.addProperty("fetchOutcome", fetchOutcome);
    }
    if ("TIMEOUT".equals(fetchOutcome)) {
      line.addProperty("exception", "java.net.http.HttpTimeoutException");
    }
    return line.toString();
  }

  private static String recovered() {
    JsonObject line = new JsonObject();
    line.addProperty("severity", "INFO");
    line.addProperty("message", "signing keys: recovered after 3 failed fetches (540 s)");
    line.addProperty("keyHealth", "RECOVERED");
    line.addProperty("jwksUri", JWKS);
    line.addProperty("keyCount", 2);
    line.addProperty("keyAgeSeconds", 0);
    line.addProperty("usableForSeconds", 21600);
    line.addProperty("failedFetches", 3);
    line.addProperty("outageSeconds", 540);
    return line.toString();
  }
}
