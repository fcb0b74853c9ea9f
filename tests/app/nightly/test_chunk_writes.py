"""Writing a scored chunk: never over a customer changed since it was read, and history and
outbox rows only with the scores they belong to."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.tables import Customer, CustomerScore, Notification
from tests.app.nightly.helpers import before_scoring, later, rescore, runtime_of
from tests.app.seeding import seed
from training.features import STATES
from training.simulation import Simulation


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

    calls = before_scoring(monkeypatch, a_webhook_writes)
    later = simulation.as_of.to_pydatetime() + timedelta(days=10)
    summary = rescore(runtime, as_of=later)
    assert calls == [20, 1]  # only the customer changed meanwhile was read and scored again
    assert summary.rows == 20
    db.expire_all()
    customer = db.get(Customer, "r-0003")
    assert customer is not None
    assert customer.visits == 999  # type: ignore[attr-defined]
    assert customer.inputs_as_of == later


def test_state_changes_write_history_and_outbox_with_the_score(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    seed(client, score_key, simulation, 120)
    before = {c.customer_id: c.state for c in db.scalars(select(Customer))}
    runtime = runtime_of(client)
    summary = rescore(runtime, as_of=later(simulation, 90))
    db.expire_all()
    after = {c.customer_id: c for c in db.scalars(select(Customer))}
    moved = {i for i, c in after.items() if c.state != before[i]}
    assert len(moved) == summary.changes > 0
    history = db.scalars(select(CustomerScore).where(CustomerScore.source == "rescore")).all()
    assert {h.customer_id for h in history} == moved
    assert all(
        (h.previous_state, h.state) == (before[h.customer_id], after[h.customer_id].state)
        for h in history
    )
    notes = db.scalars(select(Notification)).all()
    assert {n.customer_id for n in notes} == moved
    for note in notes:
        customer = after[note.customer_id]
        assert note.payload["old_state"] == before[note.customer_id]
        assert note.payload["new_state"] == customer.state
        assert note.payload["reasons_for"]
        assert all(r["text"] for r in note.payload["reasons_for"])  # rendered in full
    for customer in after.values():
        document = customer.latest_score  # the compact stored form
        assert document is not None
        assert STATES[int(np.argmax(document["p"]))] == customer.state
        assert document["action"]["code"] == customer.action_code
