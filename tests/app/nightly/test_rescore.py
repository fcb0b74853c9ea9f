"""Nightly rescoring: every customer once, decay without events, locks, no lost updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.nightly import lease
from app.nightly import run_records as runs
from app.nightly.rescore import rescore_all
from app.nightly.run_records import break_lock
from app.tables import Customer, JobLock, ScoringRun
from tests.app.nightly.helpers import before_scoring, runtime_of
from tests.app.seeding import seed
from training.features import STATES
from training.simulation import Simulation


@pytest.mark.parametrize("workers", [0, 1], ids=["here", "in-a-worker"])
def test_rescore_scores_everyone_once_and_decays_silent_customers(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    db: Session,
    workers: int,
) -> None:
    seed(client, score_key, simulation, 300)
    runtime = runtime_of(client)
    later = simulation.as_of.to_pydatetime() + timedelta(days=75)
    before = {c.customer_id: c.state for c in db.scalars(select(Customer))}
    summary = rescore_all(
        runtime.sessions, runtime.scorer, as_of=later, chunk_size=70, workers=workers
    )
    assert summary.rows == 300
    assert sum(sum(row.values()) for row in summary.transitions.values()) == 300
    db.expire_all()
    after = {c.customer_id: c for c in db.scalars(select(Customer))}
    assert all(c.inputs_as_of == later for c in after.values())
    assert all(c.visits_30d in (0, None) for c in after.values())  # type: ignore[attr-defined]
    hot_before = sum(s in {"intent", "deciding"} for s in before.values())
    hot_after = sum(c.state in {"intent", "deciding"} for c in after.values())
    assert hot_after < hot_before
    run = db.get(ScoringRun, summary.run_id)
    assert run is not None
    assert (run.status, run.rows_scored, run.state_changes) == ("succeeded", 300, summary.changes)
    listed = client.get("/v1/runs", headers=score_key).json()
    assert listed[0]["id"] == summary.run_id
    assert listed[0]["transitions"] == summary.transitions
    assert db.get(JobLock, "rescore") is None


def test_rescore_dry_run_writes_no_scores(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    seed(client, score_key, simulation, 50)
    versions = {c.customer_id: c.row_version for c in db.scalars(select(Customer))}
    runtime = runtime_of(client)
    later = simulation.as_of.to_pydatetime() + timedelta(days=75)
    summary = rescore_all(runtime.sessions, runtime.scorer, as_of=later, dry_run=True)
    assert summary.rows == 50
    db.expire_all()
    assert {c.customer_id: c.row_version for c in db.scalars(select(Customer))} == versions
    run = db.get(ScoringRun, summary.run_id)
    assert run is not None
    assert run.status == "dry-run"


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
        rescore_all(runtime.sessions, runtime.scorer)
    assert "elsewhere:1" in refused.value.message
    assert "`dealnode rescore --resume deadbeef`" in refused.value.message
    assert break_lock(runtime.sessions) == "deadbeef"
    assert rescore_all(runtime.sessions, runtime.scorer).rows == 5


def test_a_run_takes_over_the_expired_lease_of_a_dead_run(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    seed(client, score_key, simulation, 5)
    runtime = runtime_of(client)
    dead = runs.claim(
        runtime.sessions,
        run_id=None,
        shard=runs.Shard(),
        version=runtime.scorer.serving.model.version,
        as_of=None,
        dry_run=False,
        resume=False,
    )
    db.execute(update(JobLock).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.commit()

    summary = rescore_all(runtime.sessions, runtime.scorer)
    assert (summary.rows, summary.abandoned) == (5, dead.run_id)
    db.expire_all()
    old = db.get(ScoringRun, dead.run_id)
    assert old is not None
    assert old.status == "abandoned"
    assert db.get(JobLock, lease.LOCK) is None
    with runtime.sessions() as session, pytest.raises(Conflict, match="abandoned"):
        runs.hold(session, dead)  # the dead run's process, were it alive, writes nothing more


def test_a_webhook_update_during_the_run_is_not_overwritten(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(client, score_key, simulation, 20)
    runtime = runtime_of(client)

    def a_webhook_writes(call: int) -> None:
        if call == 1:  # between the run's read and its write, a webhook updates r-0003
            with runtime.sessions() as other:
                other.execute(
                    update(Customer)
                    .where(Customer.customer_id == "r-0003")
                    .values(visits=999, row_version=Customer.row_version + 1)
                )
                other.commit()

    calls = before_scoring(monkeypatch, runtime, a_webhook_writes)
    later = simulation.as_of.to_pydatetime() + timedelta(days=10)
    summary = rescore_all(runtime.sessions, runtime.scorer, as_of=later)
    assert calls == [20, 1]  # only the customer changed meanwhile was read and scored again
    assert summary.rows == 20
    db.expire_all()
    customer = db.get(Customer, "r-0003")
    assert customer is not None
    assert customer.visits == 999  # type: ignore[attr-defined]
    assert customer.inputs_as_of == later


def test_transition_matrix_has_every_state(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed(client, score_key, simulation, 10)
    runtime = runtime_of(client)
    summary = rescore_all(runtime.sessions, runtime.scorer)
    assert list(summary.transitions) == list(STATES)
    assert all(list(row) == list(STATES) for row in summary.transitions.values())
    assert np.sum([list(r.values()) for r in summary.transitions.values()]) == 10
    assert client.get("/v1/runs/nope", headers=score_key).status_code == 404


def test_customers_with_events_are_rebuilt_exactly_from_them(
    client: TestClient, db: Session
) -> None:
    from app.webhooks.schemas import CrmEvent
    from app.webhooks.service import refresh_customers, store_events
    from training.features import RAW_COUNT_INPUTS, InteractionType, raw_inputs_from_events

    runtime = runtime_of(client)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    events = [
        CrmEvent(
            event_id=f"x{n}",
            customer_id=f"e-{n % 4}",
            type=InteractionType(kind),
            occurred_at=start + timedelta(days=n),
        )
        for n, kind in enumerate(["visit", "reply", "quote", "objection", "meeting"] * 8)
    ]
    with runtime.sessions() as session:
        store_events(session, events, source="events", now=start + timedelta(days=60))
        refresh_customers(
            session, runtime.scorer, [f"e-{i}" for i in range(4)], as_of=start + timedelta(days=60)
        )
        session.commit()
    later = start + timedelta(days=80)
    rescore_all(runtime.sessions, runtime.scorer, as_of=later)
    frame = pd.DataFrame(
        [
            {"customer_id": e.customer_id, "type": e.type.value, "occurred_at": e.occurred_at}
            for e in events
        ]
    )
    expected = raw_inputs_from_events(frame, later)
    db.expire_all()
    for customer in db.scalars(select(Customer)):
        row = expected.loc[customer.customer_id].to_dict()
        assert [getattr(customer, n) for n in RAW_COUNT_INPUTS] == [
            int(row[n]) for n in RAW_COUNT_INPUTS
        ]


def test_rescore_cli_prints_the_matrix_and_fails_in_one_line(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    db: Session,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from app.cli.main import app
    from app.config import get_settings

    seed(client, score_key, simulation, 12)
    monkeypatch.setenv("DEALNODE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DEALNODE_MODELS_DIR", str(settings.models_dir))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(app, ["rescore", "--chunk-size", "5"])
        assert ok.exit_code == 0, ok.output
        assert "12 customers" in ok.output
        now = datetime.now(UTC)
        until = now + timedelta(hours=1)
        db.add(JobLock(name="rescore", run_id="cafe", acquired_at=now, expires_at=until))
        db.commit()
        unknown = runner.invoke(app, ["rescore", "--model", "1999-01-01_nope"])
        assert unknown.exit_code == 2
        assert "1999-01-01_nope" in unknown.stderr
        for bad in (["--shard", "3/3", "--run", "x"], ["--shard", "0/2"]):
            usage = runner.invoke(app, ["rescore", *bad])
            assert usage.exit_code == 2, usage.output
            assert len(usage.stderr.strip().splitlines()) == 1
            assert "shard" in usage.stderr or "--run" in usage.stderr
        refused = runner.invoke(app, ["rescore"])
        assert refused.exit_code == 1
        assert len(refused.stderr.strip().splitlines()) == 1
        assert "cafe is in progress" in refused.stderr
    finally:
        get_settings.cache_clear()
