package dev.invokerguard.client;

import com.google.api.client.http.HttpResponseException;
import com.google.auth.Retryable;
import java.io.EOFException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Classifies google-auth-library failures and turns them into {@link IdTokenException}s. */
final class Failures {

  /** Statuses worth another try: rate limited, or the server (not the request) failed. */
  private static final Set<Integer> TRANSIENT_STATUSES = Set.of(408, 429, 500, 502, 503, 504);

  /**
   * ComputeEngineCredentials reports a 503 as a retryable GoogleAuthException, but every other
   * status only inside the message text ("Unexpected Error code 429 trying to get identity token
   * ..."): reading the number back is the only signal there is. The pinned library version and the
   * tests with a 429 and a 500 from the metadata stand-in keep this honest.
   */
  private static final Pattern STATUS_IN_MESSAGE = Pattern.compile("\\bError code (\\d{3})\\b");

  /** Three base64url parts, the first starting like a JSON object: a JWT. Never shown. */
  private static final Pattern JWT = Pattern.compile("eyJ[\\w-]*\\.[\\w-]*\\.[\\w-]*");

  private static final int MAX_DETAIL_LENGTH = 300;

  private Failures() {}

  /**
   * Returns whether a failure to get a token is likely to go away by itself: the server is not
   * listening or dropped the connection (a metadata server not ready yet, as in a starting pod),
   * timed out, is rate limiting (429) or failed (5xx).
   */
  static boolean isTransient(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof Retryable retryable && retryable.isRetryable()) {
        return true;
      }
      if (t instanceof HttpResponseException response) {
        return TRANSIENT_STATUSES.contains(response.getStatusCode());
      }
      if (t instanceof SocketException // includes ConnectException: not listening yet
          || t instanceof SocketTimeoutException
          || t instanceof EOFException) {
        return true;
      }
      Matcher status = STATUS_IN_MESSAGE.matcher(String.valueOf(t.getMessage()));
      if (status.find()) {
        return TRANSIENT_STATUSES.contains(Integer.parseInt(status.group(1)));
      }
    }
    return false;
  }

  /**
   * Returns a one-line summary of {@code failure} and its root cause, without anything shaped like
   * a token, for an error message.
   */
  static String detail(Throwable failure) {
    if (failure == null) {
      return "";
    }
    Throwable root = failure;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String text = describe(failure);
    if (root != failure) {
      text += " (caused by " + describe(root) + ")";
    }
    text = JWT.matcher(text.replaceAll("\\s+", " ").trim()).replaceAll("[token removed]");
    while (text.endsWith(".")) {
      text = text.substring(0, text.length() - 1); // the caller ends the sentence
    }
    return text.length() <= MAX_DETAIL_LENGTH
        ? text
        : text.substring(0, MAX_DETAIL_LENGTH - 6) + " [...]";
  }

  private static String describe(Throwable t) {
    String message = t.getMessage();
    return message == null || message.isBlank() ? t.getClass().getSimpleName() : message;
  }

  /** Builds the exception that names the source, the audience, what happened and what to fix. */
  static IdTokenException failure(
      CredentialSource source, String where, String audience, String what, Throwable cause) {
    StringBuilder message =
        new StringBuilder("Could not get an ID token for audience \"")
            .append(audience)
            .append("\" from ")
            .append(source.description());
    if (where != null) {
      message.append(" at ").append(where);
    }
    message.append(": ").append(what);
    String detail = detail(cause);
    if (!detail.isEmpty()) {
      message.append(": ").append(detail);
    }
    message.append(". To fix: ").append(source.remedy()).append('.');
    return new IdTokenException(source, message.toString(), cause);
  }
}
