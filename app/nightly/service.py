"""Reading rescoring runs, for the API and the `dealnode runs` command alike."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.nightly.run_records import joined
from app.nightly.schemas import RunRead, ShardRead
from app.tables import ScoringRun, ScoringRunShard


def latest_runs(session: Session, limit: int) -> list[RunRead]:
    """The latest `limit` runs, newest first, with their shards read in one query."""
    runs = list(
        session.scalars(select(ScoringRun).order_by(ScoringRun.started_at.desc()).limit(limit))
    )
    by_run: dict[str, list[ScoringRunShard]] = defaultdict(list)
    for part in session.scalars(_shards_of([run.id for run in runs])):
        by_run[part.run_id].append(part)
    return [_read(run, by_run[run.id]) for run in runs]


def read_run(session: Session, run: ScoringRun) -> RunRead:
    """A run with its counts joined from its shards, so a running run shows live numbers."""
    return _read(run, list(session.scalars(_shards_of([run.id]))))


def _shards_of(run_ids: list[str]) -> Select[ScoringRunShard]:
    return (
        select(ScoringRunShard)
        .where(ScoringRunShard.run_id.in_(run_ids))
        .order_by(ScoringRunShard.run_id, ScoringRunShard.shard)
    )


def _read(run: ScoringRun, parts: list[ScoringRunShard]) -> RunRead:
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
