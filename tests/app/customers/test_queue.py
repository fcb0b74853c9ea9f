"""GET /v1/customers: a rep's work queue, filtered and keyset-paginated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.app.seeding import seed
from training.simulation import Simulation

QUEUE_IDS = "q-{:03d}"


def _every_page(client: TestClient, headers: dict[str, str], **params: str) -> list[Any]:
    """Every item of a queue, ten a page (at most ten pages), following the cursors."""
    seen: list[Any] = []
    cursor = None
    for _ in range(10):
        query: dict[str, str | int] = {"limit": 10, **params}
        if cursor:
            query["cursor"] = cursor
        page = client.get("/v1/customers", params=query, headers=headers).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return seen


def test_queue_pages_cover_every_customer_once_in_confidence_order(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed(client, score_key, simulation, 45, ids=QUEUE_IDS)
    seen = _every_page(client, score_key)
    ids = [item["customer_id"] for item in seen]
    assert sorted(ids) == [f"q-{i:03d}" for i in range(45)]
    keys = [(-item["confidence"], item["customer_id"]) for item in seen]
    assert keys == sorted(keys)


def test_queue_filters_state_confidence_and_open_objection(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    results = seed(client, score_key, simulation, 60, ids=QUEUE_IDS)
    by_id = {r["customer_id"]: r for r in results}
    state = max({r["state"] for r in results}, key=lambda s: sum(r["state"] == s for r in results))
    page = client.get(
        "/v1/customers",
        params={"state": state, "min_confidence": 0.5, "limit": 100},
        headers=score_key,
    ).json()
    expected = {i for i, r in by_id.items() if r["state"] == state and r["confidence"] >= 0.5}
    assert {item["customer_id"] for item in page["items"]} == expected

    snapshot = simulation.snapshot.iloc[:60]
    objecting = {f"q-{i:03d}" for i in range(60) if (snapshot["objections_30d"].iloc[i] or 0) > 0}
    page = client.get(
        "/v1/customers", params={"open_objection": True, "limit": 100}, headers=score_key
    ).json()
    assert {item["customer_id"] for item in page["items"]} == objecting


def test_queue_filters_by_action(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    results = seed(client, score_key, simulation, 30, ids=QUEUE_IDS)
    action = results[0]["next_action"]["code"]
    page = client.get("/v1/customers", params={"action": action}, headers=score_key).json()
    assert page["items"]
    assert all(item["action_code"] == action for item in page["items"])
    assert page["items"][0]["action_title"]


def test_queue_filters_at_risk_at_the_threshold_setting(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, settings: Settings
) -> None:
    results = seed(client, score_key, simulation, 60, ids=QUEUE_IDS)
    risk = {r["customer_id"]: r["at_risk"]["probability"] for r in results}
    threshold = sorted(risk.values())[30]
    with TestClient(create_app(settings.model_copy(update={"at_risk_threshold": threshold}))) as c:
        flagged = c.get(
            "/v1/customers", params={"at_risk": True, "limit": 100}, headers=score_key
        ).json()["items"]
        rest = c.get(
            "/v1/customers", params={"at_risk": "false", "limit": 100}, headers=score_key
        ).json()["items"]
    assert {i["customer_id"] for i in flagged} == {k for k, p in risk.items() if p >= threshold}
    assert {i["customer_id"] for i in rest} == {k for k, p in risk.items() if p < threshold}
    assert len(flagged) == 30
    assert all(i["at_risk"] == pytest.approx(risk[i["customer_id"]]) for i in flagged + rest)
    confidence = [i["confidence"] for i in flagged]
    assert confidence == sorted(confidence, reverse=True)
    bad = client.get("/v1/customers", params={"at_risk": "maybe"}, headers=score_key)
    assert bad.status_code == 422
    assert "at_risk" in bad.text


def test_queue_least_confident_pages_cover_every_customer_once_in_rising_order(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed(client, score_key, simulation, 45, ids=QUEUE_IDS)
    seen = _every_page(client, score_key, sort="least_confident")
    assert sorted(item["customer_id"] for item in seen) == [f"q-{i:03d}" for i in range(45)]
    keys = [(item["confidence"], item["customer_id"]) for item in seen]
    assert keys == sorted(keys)
    bad = client.get("/v1/customers", params={"sort": "newest"}, headers=score_key)
    assert bad.status_code == 422
    assert "sort" in bad.text


def test_queue_filters_silent_after_a_quote_for_the_playbooks_days(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    """A quote in the last 90 days, then at least `quote_silence_days` (3) without contact."""
    seed(client, score_key, simulation, 40, ids=QUEUE_IDS)
    now = datetime.now(UTC)
    for customer_id, days_quiet in (("quoted-quiet", 5), ("quoted-talking", 1)):
        body = {
            "customer_id": customer_id,
            "quotes": 1,
            "quotes_90d": 1,
            "visits": 3,
            "first_contact_at": (now - timedelta(days=40)).isoformat(),
            "last_contact_at": (now - timedelta(days=days_quiet)).isoformat(),
        }
        assert client.post("/v1/predict", json=body, headers=score_key).status_code == 200
    snapshot = simulation.snapshot.iloc[:40]
    quoted = {f"q-{i:03d}" for i in range(40) if (snapshot["quotes_90d"].iloc[i] or 0) > 0}
    silent = {
        f"q-{i:03d}"
        for i in range(40)
        if f"q-{i:03d}" in quoted
        and pd.notna(snapshot["last_contact_at"].iloc[i])
        and snapshot["last_contact_at"].iloc[i] <= now - timedelta(days=3)
    }
    assert silent
    found = {
        answer: {
            item["customer_id"]
            for item in client.get(
                "/v1/customers",
                params={"silent_after_quote": answer, "limit": 100},
                headers=score_key,
            ).json()["items"]
        }
        for answer in ("true", "false")
    }
    assert found["true"] == silent | {"quoted-quiet"}
    assert found["false"] == {f"q-{i:03d}" for i in range(40)} - silent | {"quoted-talking"}
