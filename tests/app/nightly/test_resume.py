"""A rescoring run that failed, or was killed for real (SIGKILL), and was resumed scores every
customer exactly once."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.nightly import lease
from app.tables import Customer, CustomerScore, JobLock, ScoringRun, ScoringRunShard
from tests.app.cli.rescore_process import rescore_env, start_rescore
from tests.app.nightly.helpers import before_scoring, later, progress, rescore, runtime_of
from tests.app.seeding import seed
from tests.app.waiting import eventually
from training.simulation import Simulation

CUSTOMERS = 1500


@pytest.mark.slow
def test_rescore_killed_mid_run_resumes_and_scores_everyone_once(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    settings: Settings,
    db: Session,
) -> None:
    seed(client, score_key, simulation, CUSTOMERS, ids="k-{:05d}")
    as_of = simulation.as_of.to_pydatetime() + timedelta(days=50)
    process = start_rescore(
        rescore_env(settings), "--chunk-size", "10", "--as-of", as_of.isoformat()
    )
    part: ScoringRunShard | None = None
    try:
        part = eventually(
            lambda: progress(db, at_least=100), "the run to progress", seconds=60, every=0.01
        )
    finally:
        workers = _children(process.pid)  # the scoring worker processes
        process.kill()  # SIGKILL: no cleanup, the lock stays, the run stays "running"
        process.wait(timeout=10)
    assert workers, "the CLI scores in a worker process by default"
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "orphaned workers"
    assert part is not None
    db.expire_all()
    run = db.get(ScoringRun, part.run_id)
    part = db.get(ScoringRunShard, (part.run_id, 0))
    assert run is not None
    assert part is not None
    assert (run.status, part.status) == ("running", "running")
    assert 0 < part.rows_scored < CUSTOMERS

    runtime = runtime_of(client)
    summary = rescore(runtime, resume=run.id, chunk_size=200)
    assert summary.rows == CUSTOMERS
    db.expire_all()
    finished = db.get(ScoringRun, run.id)
    assert finished is not None
    assert (finished.status, finished.rows_scored) == ("succeeded", CUSTOMERS)
    assert sum(sum(r.values()) for r in finished.transitions.values()) == CUSTOMERS
    assert db.scalar(select(func.count()).where(Customer.inputs_as_of != as_of)) == 0
    # Exactly once: no customer has two history rows from this run.
    per_customer = (
        select(CustomerScore.customer_id, func.count())
        .where(CustomerScore.source == "rescore")
        .group_by(CustomerScore.customer_id)
        .having(func.count() > 1)
    )
    assert db.execute(per_customer).all() == []


def _children(pid: int) -> list[int]:
    """Process ids of `pid`'s children (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def test_a_failed_shard_fails_the_run_and_can_be_resumed(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(client, score_key, simulation, 60)
    runtime = runtime_of(client)

    def fail_on_the_second_chunk(call: int) -> None:
        if call == 2:
            raise RuntimeError("the model server fell over")

    before_scoring(monkeypatch, fail_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        rescore(
            runtime,
            as_of=later(simulation),
            chunk_size=25,
        )
    run = db.scalars(select(ScoringRun)).one()
    part = db.get(ScoringRunShard, (run.id, 0))
    assert part is not None
    assert (run.status, part.status, part.rows_scored) == ("failed", "failed", 25)
    assert "fell over" in (run.error or "")
    assert db.get(JobLock, lease.LOCK) is None  # tomorrow's run is not blocked
    summary = rescore(runtime, resume=run.id, chunk_size=25)
    assert (summary.run_id, summary.rows) == (run.id, 60)
    db.expire_all()
    assert db.get(ScoringRun, run.id).status == "succeeded"  # type: ignore[union-attr]
