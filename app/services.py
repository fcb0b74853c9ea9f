"""What every DealNode process builds once: database, serving model and its follower, metrics.

The web app adds what only serving HTTP needs (`app.runtime.Runtime`); a batch command such as
`dealnode rescore` builds these and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.metrics import Metrics
from app.models_api.follower import ModelFollower
from app.scoring.actions import load_playbook
from app.scoring.advice import Advisor
from app.scoring.serving import ServingModel


@dataclass
class Services:
    """Long-lived objects shared by a process's requests or jobs."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    serving: ServingModel
    advisor: Advisor
    follower: ModelFollower
    metrics: Metrics


def build_services(settings: Settings, metrics: Metrics, *, need_model: bool = False) -> Services:
    """Build what every process needs; a bad playbook stops start-up, a missing model does not.

    The model is the active one (`ModelFollower`). `need_model` (a command that scores)
    turns a model that cannot load into ModelError naming the cause.
    """
    playbook = load_playbook(settings.playbook)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    serving = ServingModel(settings.models_dir)
    advisor = Advisor(playbook, settings.low_confidence, settings.at_risk_threshold)
    follower = ModelFollower(
        serving,
        sessions,
        metrics,
        pin=settings.model_version,
        poll_seconds=settings.active_model_poll_seconds,
    )
    try:
        follower.start_up(need_model=need_model)
    except BaseException:
        engine.dispose()
        raise
    return Services(settings, engine, sessions, serving, advisor, follower, metrics)
