"""What the web app's lifespan builds once: every process's services, plus what serving HTTP
needs (request batching, webhook intake, the key cache, the HubSpot mapping)."""

from __future__ import annotations

from dataclasses import dataclass

from app.keys.service import KeyCache
from app.monitoring.cache import TtlCache
from app.monitoring.schemas import MonitoringRead
from app.scoring.batcher import PredictionBatcher
from app.services import Services
from app.web.calibration import Calibration
from app.web.funnel import Trend
from app.webhooks.hubspot import HubSpotMapping
from app.webhooks.intake import Intake


@dataclass
class Runtime(Services):
    """Long-lived objects shared by requests; routes take each through `app.deps`."""

    keys: KeyCache
    hubspot: HubSpotMapping
    batcher: PredictionBatcher
    intake: Intake
    monitoring: TtlCache[MonitoringRead]
    """Recent monitoring reports (`DEALNODE_MONITORING_TTL_SECONDS`)."""
    calibration: TtlCache[Calibration | None]
    """Each served model's reliability on its test customers, kept for the process."""
    trends: TtlCache[Trend]
    """The funnel's trend, kept while the score history's day summaries stay as they are."""
