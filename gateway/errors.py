"""Every failure the switch reports, and the one place they become HTTP.

Each class carries a stable ``code`` (greppable, documented), an HTTP
``status`` and a default message. The handler renders the single error
shape ``{"error": {"code", "message", "details"?}, "transaction_ref"?}``.
"""

import logging

import orjson
import psycopg
from flask import Response
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
MAX_RAISED_MESSAGE = 500  # characters of a function's RAISE message shown to a client


class MosPayError(Exception):
    """Base of every error the switch answers with."""

    status = 500
    code = "INTERNAL_ERROR"
    message = "The switch could not complete the request."

    def __init__(self, message=None, details=None, transaction_ref=None, headers=None, extra=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.transaction_ref = transaction_ref
        self.headers = headers or {}
        self.extra = extra or {}

    def to_dict(self):
        """The JSON body of this error."""
        error = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        body = {"error": error, **self.extra}
        if self.transaction_ref is not None:
            body["transaction_ref"] = self.transaction_ref
        return body


class BadRequest(MosPayError):
    status, code, message = 400, "BAD_REQUEST", "The request is not valid."


class MalformedJSON(BadRequest):
    code, message = "MALFORMED_JSON", "The body is not valid JSON."


class NotAnObject(BadRequest):
    code, message = "NOT_AN_OBJECT", "The body must be a JSON object."


class ValidationFailed(BadRequest):
    code, message = "VALIDATION_ERROR", "Some fields are not valid."


class AppIdMismatch(BadRequest):
    code, message = "APP_ID_MISMATCH", "f003 must equal the App-ID header."


class Unauthorized(MosPayError):
    status, code, message = 401, "UNAUTHORIZED", "Authentication failed."

    def __init__(self, message=None, **kwargs):
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Basic realm="mospay"'})
        super().__init__(message, **kwargs)


class TwoFactorRequired(Unauthorized):
    code, message = "TOTP_REQUIRED", "This account signs in with a second factor: send a valid totp (or recovery) code."


class Forbidden(MosPayError):
    status, code, message = 403, "FORBIDDEN", "You may not do this."


class PasswordChangeRequired(Forbidden):
    code, message = "PASSWORD_CHANGE_REQUIRED", "Change your password first: POST /api/v1/admin/password."


class TwoFactorEnrolmentRequired(Forbidden):
    code, message = "TOTP_ENROLMENT_REQUIRED", "Two-factor sign-in is required for this account: enrol first."


class RouteDisabled(Forbidden):
    code, message = "ROUTE_DISABLED", "This route is disabled for the client."


class NotFound(MosPayError):
    status, code, message = 404, "NOT_FOUND", "Not found."


class RouteNotFound(NotFound):
    code, message = "ROUTE_NOT_FOUND", "No route for this app, microservice, service and route."


class TransactionNotFound(NotFound):
    code, message = "TRANSACTION_NOT_FOUND", "No transaction with this unique id."


class MethodNotAllowed(MosPayError):
    status, code, message = 405, "METHOD_NOT_ALLOWED", "This method is not allowed here."


class Conflict(MosPayError):
    status, code, message = 409, "CONFLICT", "This conflicts with what exists."


class AlreadyExists(Conflict):
    code, message = "ALREADY_EXISTS", "It already exists."


class InProgress(Conflict):
    code, message = "IN_PROGRESS", "A request with this unique id is still being processed."

    def __init__(self, message=None, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": "1"})
        super().__init__(message, **kwargs)


class ModifiedRequest(Conflict):
    code, message = "MODIFIED_REQUEST", "This unique id was used with a different payload."


class PayloadTooLarge(MosPayError):
    status, code, message = 413, "PAYLOAD_TOO_LARGE", "The body is too large."


class RateLimited(MosPayError):
    status, code, message = 429, "RATE_LIMITED", "Too many requests for this client; slow down."


class TooManyAttempts(MosPayError):
    status, code, message = 429, "TOO_MANY_ATTEMPTS", "Too many failed sign-ins; try again later."


class UnsupportedMediaType(MosPayError):
    status, code, message = 415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json."


class Rejected(MosPayError):
    """The client's request function refused the payment (risk limit, etc.)."""

    status, code, message = 422, "REJECTED", "The payment was rejected."


class FunctionError(MosPayError):
    status, code, message = 500, "FUNCTION_ERROR", "The route's database function failed."


class FunctionRaised(FunctionError):
    """A function raised on purpose (RAISE EXCEPTION): its message is the DBA's."""

    status, code = 400, "FUNCTION_RAISED"


class FunctionTimeout(FunctionError):
    status, code, message = 504, "FUNCTION_TIMEOUT", "The route's database function took too long."


class InvalidCallSpec(FunctionError):
    status, code, message = 500, "INVALID_CALL_SPEC", "The request function returned an invalid call."


class UpstreamError(MosPayError):
    status, code, message = 502, "UPSTREAM_ERROR", "The downstream service failed."


class UpstreamUnavailable(UpstreamError):
    code, message = "UPSTREAM_UNAVAILABLE", "The downstream service could not be reached."


class UpstreamCircuitOpen(UpstreamError):
    status, code = 503, "UPSTREAM_CIRCUIT_OPEN"
    message = "The downstream service is failing; calls are paused briefly. Nothing was sent."

    def __init__(self, message=None, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": "10"})
        super().__init__(message, **kwargs)


class UpstreamTimeout(UpstreamError):
    status, code = 504, "UPSTREAM_TIMEOUT"
    message = "The downstream service did not answer in time; the outcome is unknown."


class ProviderAuthFailed(UpstreamError):
    code = "PROVIDER_AUTH_FAILED"
    message = "The provider refused the switch's credentials (token step); nothing was sent."


class ProviderNotConfigured(Conflict):
    code = "PROVIDER_NOT_CONFIGURED"
    message = "The route's provider credentials are incomplete; nothing was sent."

    def __init__(self, missing, **kwargs):
        kwargs.setdefault("details", {"missing": list(missing)})
        super().__init__(f"{self.message} Missing: {', '.join(missing)}.", **kwargs)


class OutcomeUnknown(UpstreamError):
    code, message = "OUTCOME_UNKNOWN", "The payment's outcome is unknown; it is being checked."


class CallbackSignatureInvalid(Unauthorized):
    code, message = "INVALID_SIGNATURE", "The callback's signature is missing or wrong; nothing was changed."

    def __init__(self, message=None, **kwargs):
        kwargs.setdefault("headers", {})
        super().__init__(message, **kwargs)


class CallbackNotReady(Conflict):
    code, message = "NOT_READY", "The payment is still being processed; send the callback again shortly."

    def __init__(self, message=None, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": "5"})
        super().__init__(message, **kwargs)


class CallbackNotConfirmed(CallbackNotReady):
    code = "NOT_CONFIRMED"
    message = ("The provider's status query does not confirm this result yet; nothing was changed. "
               "Send the callback again shortly.")


class InvalidCallbackResult(FunctionError):
    # Most often the notification names no payment the function can find: the sender's problem.
    status = 422
    code, message = "INVALID_CALLBACK_RESULT", "The route's callback function returned an invalid mapping."


class DatabaseUnavailable(MosPayError):
    status, code, message = 503, "DATABASE_UNAVAILABLE", "The database is unavailable; retry shortly."

    def __init__(self, message=None, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": "1"})
        super().__init__(message, **kwargs)


def from_database_error(exc, function=False):
    """The switch's error for a PostgreSQL error, decided by its SQLSTATE: the one map (as PostgREST's).

    ``function``: the error came from a client's function, whose own failures
    are the route's (the SQL detail goes to admins, never to the client).
    """
    state = exc.sqlstate or ""
    if state.startswith(("08", "57P")) or (not state and isinstance(exc, psycopg.OperationalError)):
        return DatabaseUnavailable()  # connection lost, server shutting down or restarting
    if function:
        if state == "57014":  # query_canceled: the statement timeout ended the function
            return FunctionTimeout()
        if state == "P0001":  # RAISE EXCEPTION: the function refused on purpose, in its own words
            # Tenant code's words, shown to the client: bounded (a 1 MB message was returned as it was).
            message = (exc.diag.message_primary or "The function refused the request.")[:MAX_RAISED_MESSAGE]
            return FunctionRaised(message)
        return FunctionError()  # anything else a function did: stack depth, out of memory, locks…
    # psycopg refuses some values itself (a NUL byte) with the class of the SQLSTATE but no code.
    if state.startswith("23") or isinstance(exc, psycopg.IntegrityError):  # unique, foreign key, check
        return Conflict()
    if state.startswith("22") or isinstance(exc, psycopg.DataError):  # NUL byte, out-of-range number
        return BadRequest("A value in the request cannot be stored (invalid characters or range).")
    return MosPayError()


_HTTP_CODES = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
    405: MethodNotAllowed, 413: PayloadTooLarge, 415: UnsupportedMediaType,
}


def error_response(error):
    """Render a ``MosPayError`` as the JSON error response."""
    response = Response(orjson.dumps(error.to_dict()), status=error.status, mimetype="application/json")
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def from_http_exception(exc):
    """Translate a Werkzeug HTTP exception (404 route, 405, 413, …) to our error type."""
    error_class = _HTTP_CODES.get(exc.code)
    if error_class is None:
        error = MosPayError()
        error.status, error.code = exc.code or 500, "HTTP_ERROR"
        error.message = exc.description or exc.name
        return error
    if error_class is Unauthorized:
        return Unauthorized()
    if error_class is MethodNotAllowed and getattr(exc, "valid_methods", None):
        return MethodNotAllowed(headers={"Allow": ", ".join(exc.valid_methods)})  # RFC 9110: every 405 says
    return error_class()


def as_error(exc):
    """The switch's error for any exception a request raised, logged as its kind deserves: the one map from an
    exception to the JSON error, used by Flask's handlers and by the direct payment path alike."""
    if isinstance(exc, MosPayError):
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return exc
    if isinstance(exc, psycopg.Error):
        error = from_database_error(exc)
        log.log(logging.ERROR if error.status >= 500 else logging.WARNING, "database error %s → %s",
                exc.sqlstate, error.code)
        return error
    if isinstance(exc, HTTPException):
        return from_http_exception(exc)
    log.error("unexpected error", exc_info=exc)
    return MosPayError()


def register_error_handlers(app):
    """Map every exception to the one JSON error shape; never a traceback."""

    @app.errorhandler(MosPayError)
    @app.errorhandler(psycopg.Error)
    @app.errorhandler(HTTPException)
    @app.errorhandler(Exception)
    def _any(exc):
        return error_response(as_error(exc))
