"""FastAPI dependencies, as Annotated aliases routes can name directly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.db import session_scope
from app.errors import Forbidden
from app.keys import service as key_service
from app.keys.service import Caller, Scope
from app.metrics import Metrics
from app.runtime import Runtime
from app.scoring.advice import Advisor
from app.scoring.serving import ServingModel

# Dependencies that only read memory are `async def`: a plain `def` would cost a thread-pool
# hop per dependency per request, which is most of a fast prediction's time.


async def get_runtime(request: Request) -> Runtime:
    """The objects the lifespan built for this app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A session per request; the route commits, anything else is rolled back."""
    yield from session_scope(runtime.sessions)


async def get_serving(runtime: RuntimeDep) -> ServingModel:
    """The served model's holder."""
    return runtime.serving


async def get_advisor(runtime: RuntimeDep) -> Advisor:
    """What turns predictions into reasons and actions."""
    return runtime.advisor


async def get_metrics(runtime: RuntimeDep) -> Metrics:
    """The app's metrics."""
    return runtime.metrics


async def get_raw_body(request: Request) -> bytes:
    """The request body exactly as sent: signatures are computed over these bytes."""
    return await request.body()


SessionDep = Annotated[Session, Depends(get_session)]
RawBody = Annotated[bytes, Depends(get_raw_body)]


async def get_app_settings(runtime: RuntimeDep) -> Settings:
    """The settings this app was created with (not a fresh read of the environment)."""
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ServingDep = Annotated[ServingModel, Depends(get_serving)]
AdvisorDep = Annotated[Advisor, Depends(get_advisor)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


class BearerKey(SecurityBase):
    """The `Authorization` header as sent, declared as the API's bearer scheme.

    Declared so the docs page's Authorize button sends the key with every request it tries;
    the header is passed on untouched because `authenticate` tells a missing key from a
    malformed header, which FastAPI's own `HTTPBearer` would fold into one.
    """

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="dn_<key id>_<secret>",
            description="An API key from `dealnode keys create --scope score|admin`.",
        )
        self.scheme_name = "apiKey"

    async def __call__(self, request: Request) -> str | None:
        return request.headers.get("authorization")


BEARER_KEY = BearerKey()


def require_scope(scope: Scope) -> Callable[..., Awaitable[Caller]]:
    """A dependency that wants a valid key with `scope` (an admin key may also score).

    Returns the key's caller (scope and name). A key seen recently is taken from the
    runtime's cache; otherwise the database check runs in the thread pool, never on the event
    loop.
    """

    async def check(
        runtime: RuntimeDep,
        authorization: Annotated[str | None, Security(BEARER_KEY)],
    ) -> Caller:
        caller = runtime.keys.get(authorization) if authorization else None
        if caller is None:
            caller = await run_in_threadpool(_verify, runtime, authorization)
            runtime.keys.put(authorization or "", caller)
        if scope == "admin" and caller.scope != "admin":
            raise Forbidden("this endpoint needs an admin key")
        return caller

    return check


def _verify(runtime: Runtime, authorization: str | None) -> Caller:
    with runtime.sessions() as session:
        return key_service.caller_of(key_service.authenticate(session, authorization))


ScoreKey = Annotated[Caller, Depends(require_scope("score"))]
AdminKey = Annotated[Caller, Depends(require_scope("admin"))]
