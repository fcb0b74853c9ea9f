"""The nightly run's lease: one run at a time, renewed while the run lives, lost when it is
killed, so the next night's run starts without anyone breaking a lock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import Conflict
from app.nightly import lease
from app.nightly import run_records as runs
from app.nightly.lease import LOCK
from app.nightly.run_records import break_lock
from app.tables import Customer, JobLock, ScoringRun
from tests.app.cli.rescore_process import rescore_env, run_rescore, start_rescore
from tests.app.nightly.helpers import progress, rescore, runtime_of
from tests.app.seeding import seed
from tests.app.waiting import eventually
from training.simulation import Simulation

CUSTOMERS = 1500
LEASE_SECONDS = 1.5
"""Short, so the test sees renewals well before the slow first run (a chunk a customer) ends."""


@pytest.mark.slow
def test_a_killed_run_loses_its_lease_and_the_next_run_needs_no_break_lock(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    settings: Settings,
    db: Session,
) -> None:
    seed(client, score_key, simulation, CUSTOMERS, ids="l-{:05d}")
    env = rescore_env(settings, DEALNODE_RESCORE_LEASE_SECONDS=str(LEASE_SECONDS))
    first = start_rescore(env, "--workers", "0", "--chunk-size", "1")
    try:
        part = eventually(
            lambda: progress(db, at_least=100), "the first run to progress", seconds=60, every=0.02
        )
        lease = db.get(JobLock, LOCK)
        assert lease is not None
        assert lease.run_id == part.run_id
        first_expiry = lease.expires_at
        eventually(
            lambda: _renewed_after(db, first_expiry),
            "the lease to be renewed",
            seconds=60,
            every=0.02,
        )
        assert first.poll() is None, "the first run must still be going"

        runtime = runtime_of(client)
        with pytest.raises(Conflict) as refused:
            rescore(runtime)
        assert f"`dealnode rescore --resume {part.run_id}`" in refused.value.message
    finally:
        first.kill()  # SIGKILL: no cleanup, no release; only the lease's end frees the run
        first.wait(timeout=10)

    db.expire_all()
    lease = db.get(JobLock, LOCK)
    assert lease is not None
    assert lease.run_id == part.run_id
    time.sleep(max(0.0, (lease.expires_at - datetime.now(UTC)).total_seconds()) + 0.2)

    second = run_rescore(env, "--workers", "0", "--chunk-size", "500", timeout=120)
    assert second.returncode == 0, second.stderr
    assert f"note: run {part.run_id} had died unfinished" in second.stderr
    db.expire_all()
    dead = db.get(ScoringRun, part.run_id)
    assert dead is not None
    assert dead.status == "abandoned"
    (done,) = db.scalars(select(ScoringRun).where(ScoringRun.id != part.run_id))
    assert (done.status, done.rows_scored) == ("succeeded", CUSTOMERS)
    assert db.get(JobLock, LOCK) is None
    rescored = select(Customer).where(Customer.inputs_as_of >= done.as_of - timedelta(seconds=1))
    assert len(db.scalars(rescored).all()) == CUSTOMERS


def _renewed_after(db: Session, expiry: datetime) -> JobLock | None:
    db.expire_all()
    lease = db.get(JobLock, LOCK)
    return lease if lease is not None and lease.expires_at > expiry else None


def test_a_second_run_is_refused_while_one_holds_the_lock(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    seed(client, score_key, simulation, 5)
    now = datetime.now(UTC)
    db.add(
        JobLock(
            name="rescore",
            run_id="deadbeef",
            acquired_at=now,
            expires_at=now + timedelta(hours=1),
            holder="elsewhere:1",
        )
    )
    db.commit()
    runtime = runtime_of(client)
    with pytest.raises(Conflict, match="deadbeef is in progress") as refused:
        rescore(runtime)
    assert "elsewhere:1" in refused.value.message
    assert "`dealnode rescore --resume deadbeef`" in refused.value.message
    assert break_lock(runtime.sessions) == "deadbeef"
    assert rescore(runtime).rows == 5


def test_a_run_takes_over_the_expired_lease_of_a_dead_run(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    seed(client, score_key, simulation, 5)
    runtime = runtime_of(client)
    dead = runs.claim(
        runtime.sessions,
        run_id=None,
        shard=runs.Shard(),
        version=runtime.serving.model.version,
        as_of=None,
        dry_run=False,
        resume=False,
    )
    db.execute(update(JobLock).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.commit()

    summary = rescore(runtime)
    assert (summary.rows, summary.abandoned) == (5, dead.run_id)
    db.expire_all()
    old = db.get(ScoringRun, dead.run_id)
    assert old is not None
    assert old.status == "abandoned"
    assert db.get(JobLock, lease.LOCK) is None
    with runtime.sessions() as session, pytest.raises(Conflict, match="abandoned"):
        runs.hold(session, dead)  # the dead run's process, were it alive, writes nothing more
