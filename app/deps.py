"""FastAPI dependencies, as Annotated aliases routes can name directly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import session_scope
from app.errors import Forbidden
from app.keys import service as key_service
from app.keys.service import Scope
from app.metrics import Metrics
from app.runtime import Runtime
from app.scoring.scorer import Scorer
from app.tables import ApiKey


def get_runtime(request: Request) -> Runtime:
    """The objects the lifespan built for this app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A session per request; the route commits, anything else is rolled back."""
    yield from session_scope(runtime.sessions)


def get_scorer(runtime: RuntimeDep) -> Scorer:
    """The serving model holder."""
    return runtime.scorer


def get_metrics(runtime: RuntimeDep) -> Metrics:
    """The app's metrics."""
    return runtime.metrics


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ScorerDep = Annotated[Scorer, Depends(get_scorer)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def require_scope(scope: Scope) -> Callable[..., ApiKey]:
    """A dependency that wants a valid key with `scope` (an admin key may also score)."""

    def check(
        session: SessionDep,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> ApiKey:
        key = key_service.authenticate(session, authorization)
        if scope == "admin" and key.scope != "admin":
            raise Forbidden("this endpoint needs an admin key")
        return key

    return check


ScoreKey = Annotated[ApiKey, Depends(require_scope("score"))]
AdminKey = Annotated[ApiKey, Depends(require_scope("admin"))]
