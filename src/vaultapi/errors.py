"""One error tree, rendered as RFC 9457 `application/problem+json`.

Every error a client can see is a `VaultAPIError` subclass with a fixed HTTP
status, a stable machine-readable `code` and a human `title`; `detail` says
what happened in this instance. Clients branch on `code`, never on text.
Starlette's HTTP errors, request validation errors and database outages are
mapped into the same shape; anything unexpected becomes a bare 500 with the
request id (the traceback goes to the log, never to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import quote

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:vaultapi:problem:"


class ConfigurationError(Exception):
    """The settings cannot run this server. Not an HTTP error: raised at start."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    def render(self, heading: str = "vaultapi cannot start") -> str:
        return heading + ":\n" + "\n".join(f"  - {problem}" for problem in self.problems)


class DatabaseUnreachable(Exception):
    """A database connection could not be opened: refused, unreachable, timed
    out, wrong credentials, no such database, too many connections, starting
    up. Raised by our connection factory (`vaultapi.db.engine`), so an outage
    is told apart from a bug by where it happened, not by guessing from types."""


class VaultAPIError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        keep_changes: bool = False,
    ) -> None:
        self.detail = detail
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        self.keep_changes = keep_changes
        """Commit the request's writes before answering with this error: for
        decided outcomes whose bookkeeping must stick (a failed login consumes
        its handshake and counts toward backoff)."""
        super().__init__(detail or self.title)


class BadRequest(VaultAPIError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(VaultAPIError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(VaultAPIError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(VaultAPIError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(VaultAPIError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class Conflict(VaultAPIError):
    status, code, title = 409, "conflict", "Conflict"


class Gone(VaultAPIError):
    status, code, title = 410, "gone", "Gone"


class PreconditionFailed(VaultAPIError):
    status, code, title = 412, "precondition_failed", "Precondition failed"


class PayloadTooLarge(VaultAPIError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(VaultAPIError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class ValidationFailed(VaultAPIError):
    status, code, title = 422, "validation_failed", "Request validation failed"


class TooManyRequests(VaultAPIError):
    status, code, title = 429, "too_many_requests", "Too many requests"


class InternalError(VaultAPIError):
    status, code, title = 500, "internal_error", "Internal server error"


class ServiceUnavailable(VaultAPIError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code, title = "database_unavailable", "Database unavailable"


class NotReady(ServiceUnavailable):
    code, title = "not_ready", "Not ready"


class ShuttingDown(ServiceUnavailable):
    code, title = "shutting_down", "Shutting down"


# -- authentication and accounts ---------------------------------------------


class InvalidCredentials(Unauthorized):
    """The one answer for a wrong password, an unknown e-mail, or a disabled
    account at login: which one it was is never revealed."""

    code, title = "invalid_credentials", "Invalid credentials"


class InvalidToken(Unauthorized):
    code, title = "invalid_token", "Invalid or expired access token"


class RefreshTokenInvalid(Unauthorized):
    code, title = "invalid_refresh_token", "Invalid refresh token"


class RefreshTokenReused(Unauthorized):
    code, title = "refresh_token_reused", "Refresh token reused: the session is revoked"


class HandshakeInvalid(Unauthorized):
    code, title = "handshake_invalid", "Unknown, used or expired handshake"


class InvalidSRPValue(BadRequest):
    code, title = "invalid_srp_value", "Invalid SRP value"


class InvalidKeyMaterial(BadRequest):
    code, title = "invalid_key_material", "Invalid key material"


class WeakKdfParameters(BadRequest):
    code, title = "kdf_parameters_out_of_range", "KDF parameters out of range"


class EmailTaken(Conflict):
    code, title = "email_taken", "E-mail already registered"


class RecentAuthRequired(Forbidden):
    code, title = "recent_auth_required", "A fresh login proof is required"


class AccountDisabled(Forbidden):
    code, title = "account_disabled", "Account disabled"


class MFATokenInvalid(Unauthorized):
    code, title = "mfa_token_invalid", "Unknown, used or expired mfa_token: log in again"


class InvalidSecondFactor(Unauthorized):
    code, title = "invalid_second_factor", "Wrong second factor"


class MFAStateConflict(Conflict):
    code, title = "mfa_state_conflict", "Not possible in the current second-factor state"


class CeremonyInvalid(BadRequest):
    code, title = "webauthn_ceremony_invalid", "Unknown, used or expired WebAuthn ceremony"


class WebAuthnRejected(BadRequest):
    code, title = "webauthn_rejected", "The authenticator's response does not verify"


class AdminRequired(Forbidden):
    code, title = "admin_required", "This needs an admin account"


class IPBlocked(Forbidden):
    code, title = "ip_blocked", "Requests from this address are blocked"


class PreconditionRequired(VaultAPIError):
    status, code, title = 428, "precondition_required", "If-Match required"


class StaleRevision(PreconditionFailed):
    code, title = "stale_revision", "The object changed since that revision"


class ItemExists(Conflict):
    code, title = "item_exists", "An object with this id already exists"


class LimitReached(Conflict):
    code, title = "limit_reached", "Limit reached"


class InvalidCiphertext(BadRequest):
    code, title = "invalid_ciphertext", "Not a well-formed EncString"


class TooManyAttempts(TooManyRequests):
    code, title = "too_many_attempts", "Too many attempts"


# -- shares --------------------------------------------------------------------


class ShareGone(Gone):
    """The one answer for a share that cannot be opened: unknown, expired, used
    up, revoked or locked. Which one it was is told to the owner only."""

    code, title = "share_gone", "Share gone"


class AccessProofRequired(Unauthorized):
    code, title = "access_proof_required", "This share needs its passphrase"


class InvalidAccessProof(Forbidden):
    code, title = "invalid_access_proof", "Wrong passphrase"


class ShareOutOfRange(BadRequest):
    code, title = "share_out_of_range", "Share lifetime or views out of range"


_BY_STATUS: dict[int, type[VaultAPIError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        Gone,
        PreconditionFailed,
        PreconditionRequired,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        TooManyRequests,
        InternalError,
        ServiceUnavailable,
    )
}


def request_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def problem_body(
    error: VaultAPIError, *, instance: str | None, request_id: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + error.code,
        "title": error.title,
        "status": error.status,
        "code": error.code,
    }
    if error.detail:
        body["detail"] = error.detail
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    for key, value in error.extra.items():
        body.setdefault(key, value)
    return body


def problem_response(
    error: VaultAPIError, *, instance: str | None = None, request_id: str | None = None
) -> JSONResponse:
    return JSONResponse(
        problem_body(error, instance=instance, request_id=request_id),
        status_code=error.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=error.headers,
    )


def instance_of(path: str) -> str:
    """The request path as a URI reference (RFC 9457 `instance`), re-encoded:
    the decoded path may hold spaces, newlines or non-ASCII text."""
    return quote(path, safe="/:@!$&'()*+,;=-._~")


def _respond(request: Request, error: VaultAPIError) -> JSONResponse:
    return problem_response(
        error, instance=instance_of(request.scope["path"]), request_id=request_id_of(request)
    )


async def _on_vaultapi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VaultAPIError)  # noqa: S101 - registered for this type only
    return _respond(request, exc)


_FASTAPI_BODY_PARSE_DETAIL = "There was an error parsing the body"
"""FastAPI's 400 for a JSON body it could not even decode (not UTF-8, nested
too deep), as opposed to its 422 `json_invalid` for a JSON syntax error."""


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    if exc.status_code == 400 and exc.detail == _FASTAPI_BODY_PARSE_DETAIL:
        # Not JSON is not JSON, however it fails: one answer, the documented 422.
        error = {"loc": ["body"], "msg": "The body is not valid JSON", "type": "json_invalid"}
        return _respond(
            request, ValidationFailed(f"body: {error['msg']}", extra={"errors": [error]})
        )
    cls = _BY_STATUS.get(exc.status_code) or _generic_error(exc.status_code)
    headers = dict(exc.headers or {})
    detail = None
    if exc.status_code == 404:
        detail = f"No route matches {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    elif isinstance(exc.detail, str) and exc.status_code < 500:
        detail = exc.detail
    return _respond(request, cls(detail, headers=headers))


# Pydantic error types whose message is built from the constraint only (a
# length, a pattern, the allowed literals), never from the rejected input.
# Any other type gets a fixed message: pydantic's own text may quote the input
# (`union_tag_invalid`, `uuid_parsing`, custom `value_error`s), and in a
# password manager the input may be a secret.
_MESSAGES_WITHOUT_INPUT = frozenset(
    {
        "missing",
        "extra_forbidden",
        "string_type",
        "string_too_short",
        "string_too_long",
        "string_pattern_mismatch",
        "int_type",
        "int_parsing",
        "float_type",
        "float_parsing",
        "bool_type",
        "bool_parsing",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "multiple_of",
        "too_short",
        "too_long",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "literal_error",
        "enum",
        "uuid_type",
        "datetime_type",
        "json_invalid",
        "json_type",
        "bytes_type",
        "bytes_too_short",
        "bytes_too_long",
    }
)
_MAX_LOC_PART = 64


def _safe_message(error: Mapping[str, Any]) -> str:
    error_type = str(error["type"])
    if error_type in _MESSAGES_WITHOUT_INPUT:
        return str(error["msg"])
    return f"Invalid value ({error_type})"


def _generic_error(status: int) -> type[VaultAPIError]:
    """An error class for a status we have no class for, keeping the status."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = "_".join(phrase.lower().replace("-", " ").split())
    return type(
        "HTTPStatusError", (VaultAPIError,), {"status": status, "code": code, "title": phrase}
    )


def _field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors without `input`, `ctx`, or any message that could
    quote the input; client-chosen keys in `loc` are cut to a bounded length."""
    return [
        {
            "loc": [
                part if isinstance(part, int) else str(part)[:_MAX_LOC_PART]
                for part in error["loc"]
            ],
            "msg": _safe_message(error),
            "type": str(error["type"]),
        }
        for error in errors
    ]


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = _field_errors(exc.errors())
    summary = "; ".join(
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in errors[:5]
    )
    return _respond(request, ValidationFailed(summary, extra={"errors": errors}))


# SQLite errors that mean "the database file cannot be used right now", as
# opposed to a bug in our SQL (`no such table`, which must stay a 500).
_SQLITE_OUTAGE_MESSAGES = ("database is locked", "unable to open database file", "disk I/O error")


def sqlstate_of(exc: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE of `exc`: an asyncpg error raised on the direct
    path (`vaultapi.db.direct`), or one SQLAlchemy wrapped in a `DBAPIError`."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state if isinstance(state, str) else None


def is_connection_lost(sqlstate: str | None) -> bool:
    """Class 08 (connection exception) and 57P (the server ends the session:
    admin shutdown, crash, starting up, database dropped, idle timeout): the
    connection is gone, whatever statement was running on it."""
    return sqlstate is not None and sqlstate.startswith(("08", "57P"))


_TIMEOUT_SQLSTATES = ("57014", "55P03")
"""query_canceled (`statement_timeout`, `database.statement_timeout_seconds`)
and lock_not_available (`lock_timeout`, `database.lock_timeout_seconds`): the
database is too slow or a lock is held too long right now; the transaction
was rolled back, the connection stays usable."""


def is_database_timeout(exc: BaseException) -> bool:
    return isinstance(exc, (DBAPIError, asyncpg.PostgresError)) and (
        sqlstate_of(exc) in _TIMEOUT_SQLSTATES
    )


def is_database_outage(exc: BaseException) -> bool:
    """True when `exc` means "the database cannot serve us right now" (answer 503),
    false for errors in our own SQL or data (answer 500 and fix the bug)."""
    if isinstance(exc, (DatabaseUnreachable, PoolTimeoutError)):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return is_connection_lost(exc.sqlstate)
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or is_connection_lost(sqlstate_of(exc)):
        return True
    return isinstance(exc, OperationalError) and any(
        message in str(exc.orig) for message in _SQLITE_OUTAGE_MESSAGES
    )


_RETRYABLE_SQLSTATES = ("40P01", "40001")
"""Deadlock detected, serialization failure: PostgreSQL aborted one of two
conflicting transactions; the request did nothing and can simply be retried."""


def is_retryable_conflict(exc: BaseException) -> bool:
    return isinstance(exc, (DBAPIError, asyncpg.PostgresError)) and (
        sqlstate_of(exc) in _RETRYABLE_SQLSTATES
    )


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """503 for what the database does to us (outage, overload, a conflict
    between two transactions); anything else is our bug and stays a 500."""
    if is_retryable_conflict(exc):
        log.warning("transaction aborted by a concurrent one: %s", type(exc).__name__)
        return _respond(
            request,
            DatabaseUnavailable(
                "A concurrent change conflicted with this request; retry it",
                headers={"Retry-After": "1"},
            ),
        )
    if isinstance(exc, PoolTimeoutError) or is_database_timeout(exc):
        log.warning("database busy: %s", _first_line(exc))
        return _respond(
            request,
            DatabaseUnavailable(
                "The database is too busy to answer in time; retry later",
                headers={"Retry-After": "2"},
            ),
        )
    if not is_database_outage(exc):
        raise exc  # a real bug: let the outer middleware log it and answer 500
    log.warning("database unavailable: %s", exc)
    return _respond(
        request,
        DatabaseUnavailable(
            "The database cannot be reached; retry later", headers={"Retry-After": "5"}
        ),
    )


def _first_line(exc: BaseException) -> str:
    """The error without the SQL SQLAlchemy appends (its parameters are hidden
    anyway, but a timed-out statement's text says nothing an operator needs)."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VaultAPIError, _on_vaultapi_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(PoolTimeoutError, _on_database_error)
    app.add_exception_handler(DatabaseUnreachable, _on_database_error)
    # The direct path (`vaultapi.db.direct`) raises asyncpg's own errors.
    app.add_exception_handler(asyncpg.PostgresError, _on_database_error)
