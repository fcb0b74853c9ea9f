"""Nightly rescoring: every customer once, decay without events, dry runs, the transition
matrix."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.tables import Customer, JobLock, ScoringRun
from tests.app.nightly.helpers import rescore, runtime_of
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
    summary = rescore(runtime, as_of=later, chunk_size=70, workers=workers)
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
    summary = rescore(runtime, as_of=later, dry_run=True)
    assert summary.rows == 50
    db.expire_all()
    assert {c.customer_id: c.row_version for c in db.scalars(select(Customer))} == versions
    run = db.get(ScoringRun, summary.run_id)
    assert run is not None
    assert run.status == "dry-run"


def test_transition_matrix_has_every_state(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed(client, score_key, simulation, 10)
    runtime = runtime_of(client)
    summary = rescore(runtime)
    assert list(summary.transitions) == list(STATES)
    assert all(list(row) == list(STATES) for row in summary.transitions.values())
    assert np.sum([list(r.values()) for r in summary.transitions.values()]) == 10
    assert client.get("/v1/runs/nope", headers=score_key).status_code == 404
