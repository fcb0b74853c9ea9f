"""`GET /v1/models/current/monitoring`: whether the active model can still be trusted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import MonitoringCacheDep, ScoreKey, ServingDep, SessionmakerDep
from app.monitoring import service
from app.monitoring.schemas import MonitoringRead

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("/current/monitoring")
def monitoring(
    serving: ServingDep,
    sessions: SessionmakerDep,
    cache: MonitoringCacheDep,
    _: ScoreKey,
    window_days: Annotated[
        int, Query(ge=1, le=365, description="Days of observed true states for live quality.")
    ] = service.DEFAULT_QUALITY_DAYS,
) -> MonitoringRead:
    """Input drift (PSI per input over 7 and 30 days), the predicted state mix against
    training, live quality against observed true states, and whether to retrain.

    Reports are reused for `DEALNODE_MONITORING_TTL_SECONDS` (default 300). `/metrics` shows
    the default window's report of the served model as gauges (`dealnode_feature_psi`,
    `dealnode_live_*`), from the same cache."""
    return service.current_report(sessions, serving.model, cache, window_days=window_days)
