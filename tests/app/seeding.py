"""Customers stored through the batch endpoint, so a test starts from rows the API wrote."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import customer_body
from training.simulation import Simulation

PER_REQUEST = 750
"""Customers per request, under the batch endpoint's limit of 1,000."""


def seed(
    client: TestClient,
    headers: dict[str, str],
    simulation: Simulation,
    n: int,
    *,
    ids: str = "r-{:04d}",
) -> list[Any]:
    """Score and store the simulation's first `n` customers, the i-th as `ids.format(i)`;
    return the endpoint's results in order."""
    results: list[Any] = []
    for start in range(0, n, PER_REQUEST):
        bodies = [
            customer_body(simulation.snapshot.iloc[i], ids.format(i))
            for i in range(start, min(n, start + PER_REQUEST))
        ]
        response = client.post(
            "/v1/predict/batch",
            json={"as_of": simulation.as_of.isoformat(), "customers": bodies},
            headers=headers,
        )
        assert response.status_code == 200
        results += response.json()["results"]
    return results
