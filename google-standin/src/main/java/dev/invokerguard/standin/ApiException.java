package dev.invokerguard.standin;

/** An API error the stand-in answers in Google's shape, e.g. 404 NOT_FOUND. */
final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final int code;
  final String status;

  ApiException(int code, String status, String message) {
    super(message);
    this.code = code;
    this.status = status;
  }
}
