"""Reading rescoring runs, for the API and the `dealnode runs` command alike."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs.runs import joined
from app.tables import ScoringRun, ScoringRunShard


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


def latest_runs(session: Session, limit: int) -> list[RunRead]:
    """The latest `limit` runs, newest first."""
    runs = session.scalars(select(ScoringRun).order_by(ScoringRun.started_at.desc()).limit(limit))
    return [read_run(session, run) for run in runs]


def read_run(session: Session, run: ScoringRun) -> RunRead:
    """A run with its counts joined from its shards, so a running run shows live numbers."""
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
