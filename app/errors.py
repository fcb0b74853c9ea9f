"""The service's error family and the one shape every error response has.

Every error is an RFC 9457 problem document (`application/problem+json`): `type`, `title`,
`status`, `detail` and `instance`, plus two extension members clients already rely on:
`code` (a stable machine name) and `field` (the input to fix, or null). Validation errors add
`errors`, one entry per failed field. The router's 404/405, the body limit's 413 and anything
unexpected (500, logged with the request id by the timing middleware, never leaked) come in
the same shape.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:dealnode:problem:"
"""Problem types are URNs named after `code`; `docs/errors.md` describes each one."""


class AppError(Exception):
    """Base of errors a client caused or can act on."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(AppError):
    """The body parsed, but its values do not make sense together."""

    status_code = 422
    code = "invalid_input"


class NotFound(AppError):
    """The named resource does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(AppError):
    """The request clashes with the current state."""

    status_code = 409
    code = "conflict"


class ModelUnavailable(AppError):
    """No usable model is loaded (503: retry later, nothing is wrong with the request)."""

    status_code = 503
    code = "model_unavailable"


class Unauthorized(AppError):
    """No valid API key."""

    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    """A valid key without the scope this endpoint needs."""

    status_code = 403
    code = "forbidden"


class PayloadTooLarge(AppError):
    """The body is larger than the service accepts (raised by the body-limit middleware)."""

    status_code = 413
    code = "payload_too_large"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """The one error document."""
    return {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "field": field,
    }


def problem_of(exc: AppError, instance: str | None = None) -> dict[str, Any]:
    """The error document of an `AppError`."""
    return problem(exc.status_code, exc.code, exc.message, field=exc.field, instance=instance)


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    """Send a problem document with its media type."""
    return JSONResponse(body, body["status"], headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _safe(text: str) -> str:
    """Text that can be encoded as UTF-8: a lone surrogate in the input is escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the one problem shape; anything unexpected is logged, never leaked."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        body = problem_of(exc, _safe(request.url.path))
        body["detail"] = _safe(body["detail"])
        body["field"] = None if exc.field is None else _safe(exc.field)
        return problem_response(body, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _safe(_field_of(tuple(first.get("loc", ()))))
        if first.get("type") == "json_invalid":
            detail = _safe(f"malformed JSON: {first['msg']}")
            return problem_response(
                problem(400, "malformed_json", detail, instance=_safe(request.url.path))
            )
        detail = f"{field}: {first['msg']}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        body = problem(
            422, "invalid_input", _safe(detail), field=field, instance=_safe(request.url.path)
        )
        body["errors"] = [
            {"field": _safe(_field_of(tuple(e["loc"]))), "detail": _safe(str(e["msg"]))}
            for e in errors[:20]
        ]
        return problem_response(body)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = problem(
            exc.status_code,
            f"http_{exc.status_code}",
            _safe(str(exc.detail)),
            instance=_safe(request.url.path),
        )
        return problem_response(body, getattr(exc, "headers", None))
