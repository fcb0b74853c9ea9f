"""What the lifespan builds once per process: database, serving model, metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.keys.service import KeyCache
from app.metrics import Metrics
from app.scoring.batcher import PredictionBatcher
from app.scoring.scorer import Scorer
from app.webhooks.hubspot import HubSpotMapping


@dataclass
class Runtime:
    """Long-lived objects shared by requests."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    scorer: Scorer
    metrics: Metrics
    keys: KeyCache
    hubspot: HubSpotMapping
    batcher: PredictionBatcher
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The time live features are computed as of (tests replay history at a fixed time)."""
