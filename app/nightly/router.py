"""Rescoring runs: what each nightly run scored and which states moved where."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ScoreKey, SessionDep
from app.errors import NotFound
from app.input_types import LookupId
from app.nightly.schemas import RunRead
from app.nightly.service import latest_runs, read_run
from app.tables import ScoringRun

router = APIRouter(prefix="/v1/runs", tags=["runs"])


@router.get("")
def list_runs(
    session: SessionDep, _: ScoreKey, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[RunRead]:
    """List the latest rescoring runs, newest first."""
    return latest_runs(session, limit)


@router.get("/{run_id}")
def get_run(run_id: LookupId, session: SessionDep, _: ScoreKey) -> RunRead:
    """Show one rescoring run with its shards."""
    run = session.get(ScoringRun, run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}", field="run_id")
    return read_run(session, run)
