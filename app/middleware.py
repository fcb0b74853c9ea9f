"""Pure ASGI middleware: a request body limit, and request timing with the access log.

Written as plain ASGI callables rather than BaseHTTPMiddleware, which costs noticeably per
request on the prediction hot path.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_MEDIA_TYPE, PayloadTooLarge, problem, problem_of
from app.logs import ACCESS_LOGGER, REQUEST_ID
from app.metrics import Metrics


class BodyLimit:
    """Answer 413 for a body over `max_bytes`, by header or by counting what streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(scope, send, self.max_bytes)
            return
        # Read the body here (it is at most max_bytes) and replay it: an exception raised
        # from inside the app's own body reading would be turned into a 400 by FastAPI.
        chunks: list[bytes] = []
        seen = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await _too_large(scope, send, self.max_bytes)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(chunks, None, receive), send)


def _replay(chunks: list[bytes], then: Message | None, upstream: Receive) -> Receive:
    body = b"".join(chunks)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if then is not None:
                return then
            return {"type": "http.request", "body": body, "more_body": False}
        return await upstream()

    return receive


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    error = PayloadTooLarge(f"body exceeds {limit} bytes")
    body = json.dumps(problem_of(error, scope.get("path"))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Timing:
    """Time each request under its route template (not the raw path) and log one access line.

    The request id is the client's `X-Request-ID` when it is a sane token, else a fresh one;
    it is sent back in the response and stamped on every log line written while serving.
    The line never holds headers, the query or the raw path, so no key or secret can leak.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        status, status_sent = 500, False

        async def send_status(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception:
            # Answered here, inside the request's id, rather than by Starlette's outermost
            # handler: the log line and the 500 then carry the id the client can report.
            _log.exception("unhandled error on %s %s", scope["method"], _route_of(scope))
            if status_sent:
                raise  # the answer has begun: only dropping the connection is left
            await _internal_error(scope, send_status)
        finally:
            elapsed = time.perf_counter() - start
            method, route = scope["method"], _route_of(scope)
            self.metrics.latency.labels(method, route, str(status)).observe(elapsed)
            if _ACCESS.isEnabledFor(logging.INFO):
                _log_access(request_id, method, route, status, elapsed)
            REQUEST_ID.reset(token)


_ACCESS = logging.getLogger(ACCESS_LOGGER)
_log = logging.getLogger("dealnode")


async def _internal_error(scope: Scope, send: Send) -> None:
    body = json.dumps(
        problem(500, "internal_error", "internal error; it was logged", instance=scope["path"])
    ).encode()
    headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if _SANE_ID.fullmatch(value):
                return str(value.decode())
            break
    return os.urandom(16).hex()


def _log_access(request_id: str, method: str, route: str, status: int, elapsed: float) -> None:
    """Hand the record straight to the handlers: the message is only formatted if written,
    and `Logger.info`'s search of the stack for the caller is skipped."""
    duration_ms = round(elapsed * 1000, 2)
    record = _ACCESS.makeRecord(
        _ACCESS.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %s %.1fms",
        (method, route, status, duration_ms),
        None,
        extra={
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
        },
    )
    _ACCESS.handle(record)


def _route_of(scope: Scope) -> str:
    """The route's template as the OpenAPI document writes it (no `:path` convertors)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"
