"""POST /v1/predict and /v1/predict/batch: answers, storage, and serving parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.scoring.schemas import BatchRead, ScoreRead
from tests.factories import customer_body
from training.artifacts import load_model
from training.dataset import load_customers
from training.features import STATES
from training.offline_scoring import PROBABILITY_COLUMNS, score_table
from training.simulation import Simulation
from training.train import TrainResult


def test_predict_returns_state_probabilities_reasons_and_action(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    body = customer_body(simulation.snapshot.iloc[3])
    body["as_of"] = simulation.as_of.isoformat()
    response = client.post("/v1/predict", json=body, headers=score_key)
    assert response.status_code == 200, response.text
    result = response.json()
    ScoreRead.model_validate(result)  # the documented schema is what is sent
    assert result["state"] in STATES
    assert set(result["probabilities"]) == set(STATES)
    assert sum(result["probabilities"].values()) == pytest.approx(1.0)
    # The state shown is the decision rule's, and its probability is the confidence.
    assert result["probabilities"][result["state"]] == pytest.approx(result["confidence"])
    assert 1 <= len(result["reasons_for"]) <= 3
    assert len(result["reasons_against"]) <= 3
    assert all(r["contribution"] > 0 for r in result["reasons_for"])
    assert all(r["text"] for r in result["reasons_for"] + result["reasons_against"])
    assert result["next_action"]["code"]
    assert result["next_action"]["urgency"] in {"high", "medium", "low"}


def test_predict_matches_offline_scoring_exactly(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    snapshot_path: Path,
    trained: TrainResult,
) -> None:
    """Training/serving parity at the API: the same customer gets the same probabilities."""
    rows = list(range(0, 400, 20))
    table = load_customers(snapshot_path, require_labels=False).subset(np.array(rows))
    offline = score_table(load_model(trained.path), table)
    bodies = [customer_body(simulation.snapshot.iloc[i]) for i in rows]
    response = client.post(
        "/v1/predict/batch",
        json={"as_of": simulation.as_of.isoformat(), "customers": bodies},
        headers=score_key,
    )
    assert response.status_code == 200, response.text
    BatchRead.model_validate(response.json())
    online = np.array([[r["probabilities"][s] for s in STATES] for r in response.json()["results"]])
    np.testing.assert_allclose(online, offline[list(PROBABILITY_COLUMNS)].to_numpy(), rtol=1e-12)


def test_batch_equals_single_predictions_in_order(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    as_of = simulation.as_of.isoformat()
    bodies = [customer_body(simulation.snapshot.iloc[i]) for i in (5, 6, 7)]
    batch = client.post(
        "/v1/predict/batch", json={"as_of": as_of, "customers": bodies}, headers=score_key
    ).json()["results"]
    for body, from_batch in zip(bodies, batch, strict=True):
        single = client.post("/v1/predict", json={**body, "as_of": as_of}, headers=score_key).json()
        assert single["probabilities"] == pytest.approx(from_batch["probabilities"], rel=1e-12)
        assert single["next_action"] == from_batch["next_action"]


def test_predict_with_id_stores_inputs_score_and_history(
    client: TestClient, score_key: dict[str, str]
) -> None:
    quiet = {
        "customer_id": "acme-1",
        "visits": 1,
        "first_contact_at": "2026-01-05T10:00:00Z",
        "last_contact_at": "2026-01-05T10:00:00Z",
    }
    first = client.post("/v1/predict", json=quiet, headers=score_key).json()
    busy = {
        **quiet,
        "visits": 40,
        "replies": 12,
        "quotes": 6,
        "objections": 4,
        "meetings": 5,
        "purchases": 3,
        "visits_30d": 10,
        "purchases_30d": 1,
        "objections_30d": 1,
        "last_contact_at": "2026-11-20T09:00:00Z",
    }
    second = client.post("/v1/predict", json=busy, headers=score_key).json()
    stored = client.get("/v1/customers/acme-1", headers=score_key)
    assert stored.status_code == 200
    customer = stored.json()
    assert customer["inputs"]["counts"]["visits"] == 40
    assert customer["latest_score"]["state"] == second["state"]
    assert customer["latest_score"]["reasons_for"] == second["reasons_for"]
    states = [h["state"] for h in reversed(customer["history"])]
    assert states[0] == first["state"]
    assert states[-1] == second["state"]
    assert len(states) == (1 if first["state"] == second["state"] else 2)


def test_predict_answers_strict_json_when_inputs_are_unknown(
    client: TestClient, score_key: dict[str, str]
) -> None:
    response = client.post("/v1/predict", json={"visits": 2}, headers=score_key)
    assert response.status_code == 200
    assert "NaN" not in response.text
    assert "Infinity" not in response.text


def test_predict_without_id_stores_nothing(client: TestClient, score_key: dict[str, str]) -> None:
    client.post("/v1/predict", json={"visits": 3}, headers=score_key)
    page = client.get("/v1/customers", headers=score_key).json()
    assert page["items"] == []


def test_batch_stores_every_customer_with_an_id(
    client: TestClient, score_key: dict[str, str]
) -> None:
    bodies = [{"customer_id": f"b-{i}", "visits": i, "replies": i // 2} for i in range(30)]
    response = client.post("/v1/predict/batch", json={"customers": bodies}, headers=score_key)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 30
    assert client.get("/v1/customers/b-29", headers=score_key).status_code == 200


def test_contact_times_with_an_offset_are_stored_in_utc(
    client: TestClient, score_key: dict[str, str]
) -> None:
    body = {
        "customer_id": "tz-1",
        "visits": 2,
        "first_contact_at": "2026-05-01T10:00:00+02:00",
        "last_contact_at": "2026-05-02T10:00:00-05:00",
    }
    assert client.post("/v1/predict", json=body, headers=score_key).status_code == 200
    inputs = client.get("/v1/customers/tz-1", headers=score_key).json()["inputs"]
    assert inputs["first_contact_at"].startswith("2026-05-01T08:00:00")
    assert inputs["last_contact_at"].startswith("2026-05-02T15:00:00")
