"""What the lifespan builds once per process: database, serving model, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.keys.service import KeyCache
from app.metrics import Metrics
from app.models_api.follower import ModelFollower
from app.scoring.advice import Advisor
from app.scoring.batcher import PredictionBatcher
from app.scoring.serving import ServingModel
from app.webhooks.hubspot import HubSpotMapping
from app.webhooks.intake import Intake


@dataclass
class Runtime:
    """Long-lived objects shared by requests."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    serving: ServingModel
    advisor: Advisor
    metrics: Metrics
    keys: KeyCache
    hubspot: HubSpotMapping
    batcher: PredictionBatcher
    intake: Intake
    follower: ModelFollower
