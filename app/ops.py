"""Operational endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.deps import EngineDep, FollowerDep, MetricsDep, ScoreKey, ServingDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Say the process is up (no dependencies checked)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(serving: ServingDep, engine: EngineDep, follower: FollowerDep) -> JSONResponse:
    """Say whether the model is loaded and the database answers; 503 otherwise."""
    checks = {"model": serving.loaded, "database": True}
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        checks["database"] = False
    ready = all(checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
    if follower.problem is not None:
        # Ready on the model it has, but not the one chosen: say why, for the operator.
        body["model_problem"] = follower.problem
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(metrics: MetricsDep, _: ScoreKey) -> Response:
    """Expose Prometheus metrics (scrape with a bearer key, like every non-health endpoint)."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
