"""FastAPI dependencies, as Annotated aliases routes can name directly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.db import session_scope
from app.errors import Forbidden
from app.keys import service as key_service
from app.keys.service import Caller, Scope
from app.metrics import Metrics
from app.models_api.follower import ModelFollower
from app.monitoring.cache import TtlCache
from app.monitoring.schemas import MonitoringRead
from app.runtime import Runtime
from app.scoring.advice import Advisor
from app.scoring.batcher import PredictionBatcher
from app.scoring.serving import ServingModel
from app.web.calibration import Calibration
from app.web.funnel import Trend
from app.webhooks.hubspot import HubSpotMapping
from app.webhooks.intake import Intake

T = TypeVar("T")

# Dependencies that only read memory are `async def`: a plain `def` would cost a thread-pool
# hop per dependency per request, which is most of a fast prediction's time. Each gives a route
# one object the lifespan built (`Runtime`), so a route names exactly what it uses.


def _runtime(request: Request) -> Runtime:
    # From the lifespan state in the request's scope: a tenth of the cost of `app.state`'s
    # attribute lookup, which each of a request's dependencies would pay.
    runtime: Runtime = request.scope["state"]["runtime"]
    return runtime


def _held(read: Callable[[Runtime], T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency giving the object `read` picks from the runtime (memory only, so async)."""

    async def held(request: Request) -> T:
        return read(_runtime(request))

    return held


get_metrics = _held(lambda runtime: runtime.metrics)
"""The app's metrics."""


async def get_raw_body(request: Request) -> bytes:
    """The request body exactly as sent: signatures are computed over these bytes."""
    return await request.body()


SettingsDep = Annotated[Settings, Depends(_held(lambda runtime: runtime.settings))]
"""The settings this app was created with (not a fresh read of the environment)."""
EngineDep = Annotated[Engine, Depends(_held(lambda runtime: runtime.engine))]
"""The database engine, for a check below the ORM."""
SessionmakerDep = Annotated[sessionmaker[Session], Depends(_held(lambda runtime: runtime.sessions))]
"""The session factory, for database work off the request's thread."""
ServingDep = Annotated[ServingModel, Depends(_held(lambda runtime: runtime.serving))]
"""The served model's holder."""
AdvisorDep = Annotated[Advisor, Depends(_held(lambda runtime: runtime.advisor))]
"""What turns predictions into reasons and next actions."""
FollowerDep = Annotated[ModelFollower, Depends(_held(lambda runtime: runtime.follower))]
"""What keeps the serving model the active one, and activates another."""
BatcherDep = Annotated[PredictionBatcher, Depends(_held(lambda runtime: runtime.batcher))]
"""What scores single predictions arriving together in one model call."""
IntakeDep = Annotated[Intake, Depends(_held(lambda runtime: runtime.intake))]
"""What stores and applies webhook deliveries, many at once."""
HubSpotMappingDep = Annotated[HubSpotMapping, Depends(_held(lambda runtime: runtime.hubspot))]
"""How HubSpot's properties map to CRM events."""
MonitoringCacheDep = Annotated[
    TtlCache[MonitoringRead], Depends(_held(lambda runtime: runtime.monitoring))
]
"""Recent monitoring reports, reused while fresh."""
CalibrationCacheDep = Annotated[
    TtlCache[Calibration | None], Depends(_held(lambda runtime: runtime.calibration))
]
"""Each served model's reliability on its test customers."""
TrendCacheDep = Annotated[TtlCache[Trend], Depends(_held(lambda runtime: runtime.trends))]
"""The funnel's trend, while the score history's day summaries stay as they are."""
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
RawBody = Annotated[bytes, Depends(get_raw_body)]


def get_session(sessions: SessionmakerDep) -> Iterator[Session]:
    """A session per request; the route commits, anything else is rolled back."""
    yield from session_scope(sessions)


SessionDep = Annotated[Session, Depends(get_session)]


class BearerKey(SecurityBase):
    """A dependency that wants a valid API key with `scope` (an admin key may also score).

    Declared as the API's bearer scheme so the docs page's Authorize button sends the key
    with every request it tries. The header is read untouched because `authenticate` tells a
    missing key from a malformed header, which FastAPI's own `HTTPBearer` would fold into one.

    Returns the key's caller (scope and name). A key seen recently is taken from the key
    cache; otherwise the database check runs in the thread pool, never on the event loop.
    The cache and the sessions are read from the app, not taken as dependencies: every keyed
    request runs this, and each dependency FastAPI solves costs microseconds per request.
    """

    def __init__(self, scope: Scope) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="dn_<key id>_<secret>",
            description="An API key from `dealnode keys create --scope score|admin`.",
        )
        self.scheme_name = "apiKey"
        self.scope = scope

    async def __call__(self, request: Request) -> Caller:
        authorization = request.headers.get("authorization")
        runtime = _runtime(request)
        caller = runtime.keys.get(authorization) if authorization else None
        if caller is None:
            caller = await run_in_threadpool(_verify, runtime.sessions, authorization)
            runtime.keys.put(authorization or "", caller)
        if self.scope == "admin" and caller.scope != "admin":
            raise Forbidden("this endpoint needs an admin key")
        return caller


def _verify(sessions: sessionmaker[Session], authorization: str | None) -> Caller:
    with sessions() as session:
        return key_service.caller_of(key_service.authenticate(session, authorization))


ScoreKey = Annotated[Caller, Security(BearerKey("score"))]
AdminKey = Annotated[Caller, Security(BearerKey("admin"))]
