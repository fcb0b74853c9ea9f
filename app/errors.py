"""The service's error family and the one JSON shape every error response has.

Services raise these; the handlers below render `{"error": {"code", "message", "field"}}`, so
a client always finds what went wrong and which field to fix, whatever the failure.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("dealnode")


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
    """The body is larger than the service accepts."""

    status_code = 413
    code = "payload_too_large"


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape."""
    return {"error": {"code": code, "message": message, "field": field}}


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the one JSON shape; anything unexpected is logged, never leaked."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.field), exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            return JSONResponse(
                error_body("malformed_json", f"malformed JSON: {first['msg']}"), 400
            )
        message = f"{field}: {first['msg']}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        details = [{"field": _field_of(tuple(e["loc"])), "message": e["msg"]} for e in errors[:20]]
        body = error_body("invalid_input", message, field)
        body["error"]["details"] = details
        return JSONResponse(body, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(f"http_{exc.status_code}", str(exc.detail)),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )
