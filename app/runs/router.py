"""Rescoring runs: what each nightly run scored and which states moved where."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.deps import ScoreKey, SessionDep
from app.errors import NotFound
from app.input_types import LookupId
from app.jobs.runs import joined
from app.tables import ScoringRun, ScoringRunShard

router = APIRouter(prefix="/v1/runs", tags=["runs"])


class ShardRead(BaseModel):
    """One process's part of a run."""

    shard: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    rows_scored: int
    state_changes: int
    error: str | None


class RunRead(BaseModel):
    """One run; its counts join its shards' (live while it runs); `transitions[from][to]`."""

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
    shards: int
    parts: list[ShardRead]


@router.get("")
def list_runs(
    session: SessionDep, _: ScoreKey, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[RunRead]:
    """List the latest rescoring runs, newest first."""
    runs = session.scalars(select(ScoringRun).order_by(ScoringRun.started_at.desc()).limit(limit))
    return [_read(session, run) for run in runs]


@router.get("/{run_id}")
def get_run(run_id: LookupId, session: SessionDep, _: ScoreKey) -> RunRead:
    """Show one rescoring run with its shards."""
    run = session.get(ScoringRun, run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}", field="run_id")
    return _read(session, run)


def _read(session: Session, run: ScoringRun) -> RunRead:
    parts = list(
        session.scalars(
            select(ScoringRunShard)
            .where(ScoringRunShard.run_id == run.id)
            .order_by(ScoringRunShard.shard)
        )
    )
    rows, changes, transitions = joined(parts)
    return RunRead(
        id=run.id,
        model_version=run.model_version,
        as_of=run.as_of,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        dry_run=run.dry_run,
        rows_scored=rows,
        state_changes=changes,
        transitions=transitions,
        error=run.error,
        shards=run.shards,
        parts=[ShardRead.model_validate(p, from_attributes=True) for p in parts],
    )
