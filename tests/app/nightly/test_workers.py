"""`dealnode rescore --workers N`: chunks scored in other processes, every customer once."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.tables import Customer, CustomerScore, ScoringRun
from tests.app.cli.rescore_process import rescore_env, run_rescore
from tests.app.seeding import seed
from training.simulation import Simulation

pytestmark = pytest.mark.slow


def test_worker_processes_score_every_customer_once(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    settings: Settings,
    db: Session,
) -> None:
    seed(client, score_key, simulation, 300)
    before = {c.customer_id: c.state for c in db.scalars(select(Customer))}
    as_of = simulation.as_of.to_pydatetime() + timedelta(days=40)
    arguments = ["--workers", "2", "--chunk-size", "25", "--as-of", as_of.isoformat()]
    done = run_rescore(rescore_env(settings), *arguments, "--run", "pooled")
    assert done.returncode == 0, done.stderr
    assert "run pooled: 300 customers" in done.stdout
    run = db.get(ScoringRun, "pooled")
    assert run is not None
    assert (run.status, run.rows_scored) == ("succeeded", 300)
    assert db.scalar(select(func.count()).where(Customer.inputs_as_of != as_of)) == 0
    after = {c.customer_id: c.state for c in db.scalars(select(Customer))}
    moved = {i for i in after if after[i] != before[i]}
    history = db.scalars(select(CustomerScore).where(CustomerScore.source == "rescore")).all()
    assert sorted(h.customer_id for h in history) == sorted(moved)  # once each, none missing
    assert moved
    some = next(iter(moved))
    shown = client.get(f"/v1/customers/{some}", headers=score_key).json()["latest_score"]
    assert (shown["state"], shown["as_of"]) == (
        after[some],
        as_of.isoformat().replace("+00:00", "Z"),
    )
    assert all(r["text"] for r in shown["reasons_for"] + shown["reasons_against"])


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_workers_refuse_an_in_memory_database(url: str) -> None:
    from app.errors import InvalidInput
    from app.nightly.workers import worker_database_url

    with pytest.raises(InvalidInput, match="in-memory"):
        worker_database_url(url)
    assert worker_database_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"


def test_a_worker_scores_with_the_runs_model_vetted_by_the_run(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    settings: Settings,
    second_version: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app import heap
    from app.nightly import chunk_scoring as scoring
    from app.nightly.chunks import Span
    from app.nightly.run_records import Shard
    from app.nightly.worker_setup import WorkerSetup
    from app.scoring.actions import load_playbook
    from training import vetting
    from training.artifacts import load_model

    seed(client, score_key, simulation, 20)
    setup = WorkerSetup(
        settings.database_url,
        settings.models_dir,
        load_playbook(settings.playbook),
        settings.low_confidence,
    )
    # What the pool's initializer runs, here in-process: without the worker's process-wide
    # memory settings, and with its scorer and connection put away afterwards.
    monkeypatch.setattr(heap, "settle", lambda: None)
    monkeypatch.setattr(heap, "keep_freed_memory", lambda: True)
    scoring.start_worker(setup)
    checksums = load_model(settings.models_dir / second_version).checksums
    assert len(checksums) == 2  # the at-risk booster is named too: no worker vets it again
    # A fresh worker process has vetted nothing; the chunk carries the run's vetted checksums.
    monkeypatch.setattr(vetting, "_vetted", set())
    monkeypatch.setattr(subprocess, "run", _no_child_process)
    try:
        assert not scoring._Worker.serving.loaded  # the run names its model with each chunk
        span = Span(after="", last="~", shard=Shard())
        as_of = simulation.as_of.to_pydatetime()
        scored = scoring._read_and_score_in_worker(span, as_of, second_version, checksums)
        assert len(scored) == 20
        assert scoring._Worker.serving.model.version == second_version
    finally:
        scoring._Worker.sessions.kw["bind"].dispose()
        del scoring._Worker.serving, scoring._Worker.advisor, scoring._Worker.sessions


def _no_child_process(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"a worker started a process: {args} {kwargs}")
