"""Sharded rescoring and the run lifecycle: exactly once, whoever runs what."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput
from app.nightly import lease
from app.nightly.rescore import RunSummary
from app.nightly.run_records import Shard
from app.runtime import Runtime
from app.tables import Customer, JobLock, ScoringRun, ScoringRunShard, shard_key
from tests.app.nightly.helpers import before_scoring, later, rescore, runtime_of
from tests.app.seeding import seed
from training.simulation import Simulation

CUSTOMERS = 240


def test_three_shards_score_every_customer_exactly_once_and_join_one_run(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(client, score_key, simulation, CUSTOMERS)
    runtime = runtime_of(client)
    as_of = later(simulation)
    scored = before_scoring(monkeypatch, lambda _: None)
    summaries: list[RunSummary] = []
    errors: list[BaseException] = []

    def shard(index: int) -> None:
        try:
            summaries.append(
                rescore(
                    runtime,
                    as_of=as_of,
                    chunk_size=17,
                    run="nightly-1",
                    shard=Shard(index, 3),
                )
            )
        except BaseException as exc:  # surfaced below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=shard, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(s.shard.index for s in summaries) == [0, 1, 2]
    assert sum(s.rows for s in summaries) == CUSTOMERS
    assert sum(scored) == CUSTOMERS  # no customer was scored twice, even by another shard
    db.expire_all()
    customers = list(db.scalars(select(Customer)))
    assert all(c.inputs_as_of == as_of for c in customers)
    for summary in summaries:
        mine = [c for c in customers if c.shard_key % 3 == summary.shard.index]
        assert summary.rows == len(mine) > 0
    run = db.get(ScoringRun, "nightly-1")
    assert run is not None
    assert (run.status, run.shards, run.rows_scored) == ("succeeded", 3, CUSTOMERS)
    assert run.state_changes == sum(s.changes for s in summaries)
    assert db.get(JobLock, lease.LOCK) is None
    shown = client.get("/v1/runs/nightly-1", headers=score_key).json()
    assert shown["rows_scored"] == CUSTOMERS
    assert [p["shard"] for p in shown["parts"]] == [0, 1, 2]


def test_shard_keys_are_stable_hashes_that_spread_customers(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    seed(client, score_key, simulation, 300)
    customers = list(db.scalars(select(Customer)))
    assert all(c.shard_key == shard_key(c.customer_id) for c in customers)
    sizes = Counter(c.shard_key % 3 for c in customers)
    assert all(60 <= sizes[i] <= 140 for i in range(3)), sizes


def test_the_run_stays_open_and_locked_until_its_last_shard_ends(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    seed(client, score_key, simulation, 40)
    runtime = runtime_of(client)
    kwargs: dict[str, Any] = {"as_of": later(simulation), "run": "n2"}
    rescore(runtime, shard=Shard(0, 2), **kwargs)
    run = db.get(ScoringRun, "n2")
    assert run is not None
    assert run.status == "running"
    with pytest.raises(Conflict, match="n2 is in progress"):
        rescore(runtime)  # another run must wait
    with pytest.raises(Conflict, match="already finished"):
        rescore(runtime, shard=Shard(0, 2), **kwargs)
    with pytest.raises(Conflict, match="2 shard"):
        rescore(runtime, shard=Shard(1, 3), **kwargs)
    with pytest.raises(Conflict, match="as of"):
        rescore(
            runtime,
            shard=Shard(1, 2),
            run="n2",
            as_of=later(simulation, 9),
        )
    rescore(runtime, shard=Shard(1, 2), run="n2")  # joins as of n2
    db.expire_all()
    run = db.get(ScoringRun, "n2")
    assert run is not None
    assert (run.status, run.rows_scored) == ("succeeded", 40)
    assert db.get(JobLock, lease.LOCK) is None


def test_a_process_whose_shard_was_taken_over_writes_nothing_more(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(client, score_key, simulation, 30)
    runtime = runtime_of(client)

    def taken_over_after_the_first_chunk(call: int) -> None:
        if call == 2:  # another process takes the shard over (after a presumed crash)
            with runtime.sessions() as other:
                other.execute(update(ScoringRunShard).values(owner="someone-else"))
                other.commit()

    before_scoring(monkeypatch, taken_over_after_the_first_chunk)
    with pytest.raises(Conflict, match="taken over"):
        rescore(
            runtime,
            as_of=later(simulation),
            chunk_size=10,
        )
    db.expire_all()
    assert sum(c.inputs_as_of == later(simulation) for c in db.scalars(select(Customer))) == 10


@pytest.mark.parametrize(
    ("text", "shard"), [("0/1", Shard(0, 1)), ("2/3", Shard(2, 3)), (" 0/12 ", Shard(0, 12))]
)
def test_shard_parses_i_of_n(text: str, shard: Shard) -> None:
    assert Shard.parse(text) == shard


@pytest.mark.parametrize("text", ["3/3", "1/0", "-1/3", "a/b", "1", "1/2/3", ""])
def test_shard_refuses_what_is_not_i_of_n(text: str) -> None:
    with pytest.raises(InvalidInput, match="shard"):
        Shard.parse(text)


def test_a_sharded_run_needs_a_name(client: TestClient) -> None:
    runtime: Runtime = runtime_of(client)
    with pytest.raises(InvalidInput, match="--run"):
        rescore(runtime, shard=Shard(0, 2))
    with pytest.raises(InvalidInput, match="run name"):
        rescore(runtime, run="no spaces allowed")
