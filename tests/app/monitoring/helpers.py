"""Seeding and label helpers shared by the monitoring tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.app.seeding import PER_REQUEST
from tests.factories import customer_body
from training.features import STATES
from training.simulation import Simulation


def seed_changed(
    client: TestClient,
    headers: dict[str, str],
    simulation: Simulation,
    n: int,
    *,
    more_visits: int,
) -> None:
    """Store the simulation's first `n` customers with `more_visits` extra lifetime visits
    each: their other inputs as simulated, so only visits (and what derives from it) move."""
    for start in range(0, n, PER_REQUEST):
        bodies = []
        for i in range(start, min(n, start + PER_REQUEST)):
            body = customer_body(simulation.snapshot.iloc[i], f"s-{i:04d}")
            body["visits"] = int(body.get("visits", 0)) + more_visits  # type: ignore[call-overload]
            bodies.append(body)
        response = client.post(
            "/v1/predict/batch",
            json={"as_of": simulation.as_of.isoformat(), "customers": bodies},
            headers=headers,
        )
        assert response.status_code == 200, response.text


def constructed_truth(results: list[Any], wrong_every: int) -> dict[str, str]:
    """A true state per seeded customer: the predicted one, except every `wrong_every`-th,
    which is truly the next state in the funnel (the last one's, the first)."""
    truth = {}
    for i, result in enumerate(results):
        shown = result["state"]
        if i % wrong_every == 0:
            shown = STATES[(STATES.index(shown) + 1) % len(STATES)]
        truth[result["customer_id"]] = shown
    return truth


def expected_figures(results: list[Any], truth: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Precision, recall and support per state, counted by hand."""
    shown = {r["customer_id"]: r["state"] for r in results}
    figures = {}
    for state in STATES:
        hits = sum(1 for c, t in truth.items() if t == state and shown[c] == state)
        support = sum(1 for t in truth.values() if t == state)
        predicted = sum(1 for c in truth if shown[c] == state)
        figures[state] = {
            "precision": hits / predicted if predicted else None,
            "recall": hits / support if support else None,
            "support": support,
        }
    return figures
