package dev.invokerguard.standin;

import com.google.gson.JsonArray;

/** An API error the stand-in answers in Google's shape, e.g. 404 NOT_FOUND. */
final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final int code;
  final String status;

  /** The error's {@code details} (e.g. a PreconditionFailure naming a constraint), or null. */
  final transient JsonArray details;

  ApiException(int code, String status, String message) {
    this(code, status, message, null);
  }

  ApiException(int code, String status, String message, JsonArray details) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
  }
}
