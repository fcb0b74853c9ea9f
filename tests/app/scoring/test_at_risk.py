"""The at-risk flag as the API shows and stores it, and as the playbook routes on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.scoring.schemas import ScoreRead
from app.tables import Customer
from tests.app.seeding import seed
from tests.factories import customer_body
from training.artifacts import AT_RISK_BOOSTER_FILE
from training.simulation import Simulation
from training.train import TrainResult


def _client(settings: Settings, **changes: Any) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update=changes))) as client:
        yield client


@pytest.fixture
def eager(settings: Settings, db: Session) -> Iterator[TestClient]:  # noqa: ARG001
    """A client that flags everyone: its threshold is 0."""
    yield from _client(settings, at_risk_threshold=0.0)


@pytest.fixture
def plain(
    settings: Settings,
    registry_dir: Path,
    trained: TrainResult,
    db: Session,  # noqa: ARG001
) -> Iterator[TestClient]:
    """A client serving a model trained without the at-risk label."""
    path = registry_dir / trained.version
    meta = json.loads((path / "metadata.json").read_text())
    del meta["at_risk"]
    (path / "metadata.json").write_text(json.dumps(meta))
    (path / AT_RISK_BOOSTER_FILE).unlink()
    yield from _client(settings)


def test_predict_gives_the_at_risk_probability_flag_and_reasons(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    results = seed(client, score_key, simulation, 200)
    for result in results:
        ScoreRead.model_validate(result)
        risk = result["at_risk"]
        assert 0 < risk["probability"] < 1
        assert risk["flagged"] == (risk["probability"] >= 0.5)
        assert len(risk["reasons"]) <= 3
        assert all(r["contribution"] > 0 and r["text"] for r in risk["reasons"])
    assert any(r["at_risk"]["reasons"] for r in results)
    probabilities = [r["at_risk"]["probability"] for r in results]
    assert max(probabilities) - min(probabilities) > 0.1  # it tells customers apart


def test_the_stored_score_keeps_the_at_risk_flag(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    body = customer_body(simulation.snapshot.iloc[5], "risky")
    body["as_of"] = simulation.as_of.isoformat()
    answer = client.post("/v1/predict", json=body, headers=score_key).json()
    stored = client.get("/v1/customers/risky", headers=score_key).json()
    assert stored["latest_score"]["at_risk"] == answer["at_risk"]
    customer = db.get(Customer, "risky")
    assert customer is not None
    assert customer.at_risk == pytest.approx(answer["at_risk"]["probability"])


def test_a_model_without_an_at_risk_part_answers_null(
    plain: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    body = customer_body(simulation.snapshot.iloc[5], "plain")
    body["as_of"] = simulation.as_of.isoformat()
    response = plain.post("/v1/predict", json=body, headers=score_key)
    assert response.status_code == 200, response.text
    assert response.json()["at_risk"] is None
    stored = plain.get("/v1/customers/plain", headers=score_key).json()
    assert stored["latest_score"]["at_risk"] is None
    customer = db.get(Customer, "plain")
    assert customer is not None
    assert customer.at_risk is None
    page = plain.get("/v1/customers", params={"at_risk": True}, headers=score_key).json()
    assert page["items"] == []


def test_the_threshold_setting_decides_the_flag_and_the_playbook_routes_on_it(
    eager: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    results = seed(eager, score_key, simulation, 300)
    assert all(r["at_risk"]["flagged"] for r in results)
    loyal = [r for r in results if r["state"] == "loyal"]
    assert loyal
    for result in loyal:
        action = result["next_action"]
        assert action["code"] == "retention_call"
        assert "at risk of falling back" in action["why"]


def test_without_the_flag_loyal_customers_get_their_usual_action(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    results = seed(client, score_key, simulation, 300)
    for result in results:
        if result["state"] == "loyal" and not result["at_risk"]["flagged"]:
            assert result["next_action"]["code"] != "retention_call"
        if result["next_action"]["code"] == "retention_call":
            assert result["at_risk"]["flagged"]
