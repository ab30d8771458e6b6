package dev.invokerguard.guard;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Case-insensitive header look-up (RFC 9110 section 5.1), whatever map the framework passes. */
final class Headers {
  private Headers() {}

  /** The first value of header {@code name}, when there is exactly one such header line. */
  static Optional<String> single(Map<String, ? extends List<String>> headers, String name) {
    String found = null;
    int count = 0;
    for (Map.Entry<String, ? extends List<String>> entry : headers.entrySet()) {
      if (entry.getKey() != null
          && entry.getKey().equalsIgnoreCase(name)
          && entry.getValue() != null) {
        for (String value : entry.getValue()) {
          found = value;
          count++;
        }
      }
    }
    return count == 1 ? Optional.ofNullable(found) : Optional.empty();
  }
}
