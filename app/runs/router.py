"""Rescoring runs: what each nightly run scored and which states moved where."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from app.deps import ScoreKey, SessionDep
from app.errors import NotFound
from app.tables import ScoringRun

router = APIRouter(prefix="/v1/runs", tags=["runs"])


class RunRead(BaseModel):
    """One run; `transitions[from][to]` counts customers."""

    id: str
    model_version: str
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str
    dry_run: bool
    rows_scored: int
    state_changes: int
    transitions: dict[str, dict[str, int]]
    error: str | None


@router.get("")
def list_runs(
    session: SessionDep, _: ScoreKey, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[RunRead]:
    """List the latest rescoring runs, newest first."""
    runs = session.scalars(select(ScoringRun).order_by(ScoringRun.started_at.desc()).limit(limit))
    return [RunRead.model_validate(r, from_attributes=True) for r in runs]


@router.get("/{run_id}")
def get_run(run_id: str, session: SessionDep, _: ScoreKey) -> RunRead:
    """Show one rescoring run."""
    run = session.get(ScoringRun, run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}", field="run_id")
    return RunRead.model_validate(run, from_attributes=True)
