package dev.invokerguard.guard;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The trace a request belongs to, for Cloud Logging's {@code logging.googleapis.com/trace} field,
 * read from {@code X-Cloud-Trace-Context} ({@code TRACE_ID/SPAN_ID;o=1}, span in decimal) or else
 * W3C {@code traceparent} ({@code 00-TRACE_ID-SPAN_ID-FLAGS}, W3C Trace Context section 3.2).
 * Anything malformed is ignored: a trace link is a convenience, never a reason to reject.
 *
 * @param traceId 32 lower-case hex digits, not all zero
 * @param spanId 16 lower-case hex digits, or {@code null} when the header had none
 * @param sampled whether the caller asked for the trace to be recorded
 */
record TraceContext(String traceId, String spanId, boolean sampled) {
  private static final Pattern CLOUD_TRACE =
      Pattern.compile("([0-9a-fA-F]{32})(?:/([0-9]{1,20}))?(?:;o=([0-9]))?");
  private static final Pattern TRACEPARENT =
      Pattern.compile("([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?");
  private static final Pattern ALL_ZERO = Pattern.compile("0+");
  private static final int MAX_HEADER_CHARS = 512;

  /** The trace of a request, if a well-formed trace header came with it. */
  static Optional<TraceContext> of(Map<String, ? extends List<String>> headers) {
    Optional<TraceContext> cloud =
        Headers.single(headers, "X-Cloud-Trace-Context").flatMap(TraceContext::parseCloudTrace);
    return cloud.isPresent()
        ? cloud
        : Headers.single(headers, "traceparent").flatMap(TraceContext::parseTraceparent);
  }

  static Optional<TraceContext> parseCloudTrace(String value) {
    if (value.length() > MAX_HEADER_CHARS) {
      return Optional.empty();
    }
    Matcher m = CLOUD_TRACE.matcher(value.strip());
    if (!m.matches() || ALL_ZERO.matcher(m.group(1)).matches()) {
      return Optional.empty();
    }
    String spanId = null;
    if (m.group(2) != null) {
      try {
        long span = Long.parseUnsignedLong(m.group(2));
        spanId = span == 0 ? null : String.format("%016x", span);
      } catch (NumberFormatException e) {
        return Optional.empty(); // over 2^64 - 1
      }
    }
    return Optional.of(
        new TraceContext(m.group(1).toLowerCase(Locale.ROOT), spanId, "1".equals(m.group(3))));
  }

  static Optional<TraceContext> parseTraceparent(String value) {
    if (value.length() > MAX_HEADER_CHARS) {
      return Optional.empty();
    }
    Matcher m = TRACEPARENT.matcher(value.strip());
    // Version ff is forbidden; version 00 has exactly four fields; all-zero ids are invalid.
    if (!m.matches()
        || m.group(1).equals("ff")
        || (m.group(1).equals("00") && value.strip().length() != 55)
        || ALL_ZERO.matcher(m.group(2)).matches()
        || ALL_ZERO.matcher(m.group(3)).matches()) {
      return Optional.empty();
    }
    boolean sampled = (Integer.parseInt(m.group(4), 16) & 1) == 1;
    return Optional.of(new TraceContext(m.group(2), m.group(3), sampled));
  }

  /** The value of {@code logging.googleapis.com/trace}. */
  String resourceName(String project) {
    return "projects/" + project + "/traces/" + traceId;
  }
}
