"""The nightly run stores the at-risk flag through the same advisor as the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.tables import Customer, Notification
from tests.app.nightly.helpers import later, rescore, runtime_of
from tests.app.seeding import seed
from training.simulation import Simulation


@pytest.mark.parametrize("workers", [0, 1], ids=["here", "in-a-worker"])
def test_rescore_stores_each_customers_new_at_risk_probability(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    db: Session,
    workers: int,
) -> None:
    seed(client, score_key, simulation, 150)
    before = {c.customer_id: c.at_risk for c in db.scalars(select(Customer))}
    assert all(p is not None for p in before.values())
    rescore(runtime_of(client), as_of=later(simulation), chunk_size=70, workers=workers)
    db.expire_all()
    after = list(db.scalars(select(Customer)))
    assert len(after) == 150
    for customer in after:
        assert customer.at_risk is not None
        assert customer.latest_score is not None
        probability, flagged, _ = customer.latest_score["risk"]
        assert probability == pytest.approx(customer.at_risk)
        assert flagged == (customer.at_risk >= 0.5)
    moved = [c for c in after if c.at_risk != pytest.approx(before[c.customer_id])]
    assert len(moved) > 75  # two months of silence change most customers' risk
    shown = client.get(f"/v1/customers/{after[0].customer_id}", headers=score_key).json()
    assert shown["latest_score"]["at_risk"]["probability"] == pytest.approx(after[0].at_risk)


def test_rescore_notifies_rises_but_not_first_at_risk_scores(
    settings: Settings, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    low = settings.model_copy(update={"at_risk_threshold": 0.01})
    with TestClient(create_app(low)) as client:
        seed(client, score_key, simulation, 40)
        ids = sorted(c.customer_id for c in db.scalars(select(Customer)))
        db.execute(update(Customer).values(at_risk=0.0))
        db.execute(update(Customer).where(Customer.customer_id.in_(ids[:10])).values(at_risk=None))
        db.commit()
        rescore(runtime_of(client), as_of=later(simulation), chunk_size=15)
    db.expire_all()
    alerts = [
        n for n in db.scalars(select(Notification)) if n.payload["type"] == "customer.at_risk"
    ]
    risen = {c.customer_id for c in db.scalars(select(Customer)) if (c.at_risk or 0) >= 0.01}
    assert {n.customer_id for n in alerts} == risen - set(ids[:10])
    assert len(alerts) >= 25
    assert all(n.payload["at_risk"]["flagged"] for n in alerts)
