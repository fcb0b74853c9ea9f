"""What the nightly run's tests share: the app's runtime, a hook into its model calls, the
run's time and its progress as stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.nightly.rescore import RunSummary, rescore_all
from app.runtime import Runtime
from app.scoring.advice import Advisor
from app.tables import ScoringRunShard
from training.simulation import Simulation


def runtime_of(client: TestClient) -> Runtime:
    """The started app's runtime, whose sessions, model and advisor a run is given."""
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def rescore(runtime: Runtime, **options: Any) -> RunSummary:
    """`rescore_all` with the app's sessions, served model and advisor."""
    return rescore_all(runtime.sessions, runtime.serving, runtime.advisor, **options)


def before_scoring(monkeypatch: pytest.MonkeyPatch, action: Callable[[int], None]) -> list[int]:
    """Call `action(n)` before the n-th model call (from 1); return the rows scored by each
    call, so a test can tell what the run read again."""
    original = Advisor.score
    calls: list[int] = []

    def score(advisor: Advisor, predictor: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(inputs))
        action(len(calls))
        return original(advisor, predictor, inputs, *args, **kwargs)

    monkeypatch.setattr(Advisor, "score", score)
    return calls


def later(simulation: Simulation, days: int = 60) -> datetime:
    """A run's time `days` after the simulation's, so silent customers' scores decay."""
    return simulation.as_of.to_pydatetime() + timedelta(days=days)


def progress(db: Session, *, at_least: int) -> ScoringRunShard | None:
    """The first shard, read afresh, once it has scored `at_least` customers (else None)."""
    db.expire_all()
    part = db.scalars(select(ScoringRunShard)).first()
    return part if part is not None and part.rows_scored >= at_least else None
