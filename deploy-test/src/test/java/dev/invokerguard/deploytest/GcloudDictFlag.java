package dev.invokerguard.deploytest;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Parses a gcloud dictionary flag value the way {@code gcloud topic escaping} documents it: items
 * split on commas, or on DELIM when the value starts with {@code ^DELIM^}; each item split at its
 * first '='. Written from the documentation so that the test checks the script against gcloud's
 * rule, not against the script's own idea of it.
 */
final class GcloudDictFlag {
  private GcloudDictFlag() {}

  static Map<String, String> parse(String value) {
    String delimiter = ",";
    String items = value;
    if (value.startsWith("^")) {
      int end = value.indexOf('^', 1);
      if (end > 1) {
        delimiter = value.substring(1, end);
        items = value.substring(end + 1);
      }
    }
    Map<String, String> result = new LinkedHashMap<>();
    int start = 0;
    while (true) {
      int next = items.indexOf(delimiter, start);
      String item = next < 0 ? items.substring(start) : items.substring(start, next);
      int eq = item.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("Bad syntax for dict arg: [" + item + "]");
      }
      result.put(item.substring(0, eq), item.substring(eq + 1));
      if (next < 0) {
        return result;
      }
      start = next + delimiter.length();
    }
  }
}
