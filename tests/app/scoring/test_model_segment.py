"""A customer scored by a segment model is told so, in the answer and in the stored score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.tables import Customer
from tests.factories import customer_body


@pytest.fixture
def registry_dir(segmented_registry_dir: Path) -> Path:
    return segmented_registry_dir


def region_bodies(region_data: Path, region: str, n: int) -> list[dict[str, Any]]:
    """`POST /v1/predict` bodies of the first `n` customers of `region`, ids `<region>-<i>`."""
    frame = pd.read_parquet(region_data)
    rows = frame[frame["segment"] == region].head(n)
    return [customer_body(row, f"{region}-{i}") for i, (_, row) in enumerate(rows.iterrows())]


def test_predict_names_the_segment_model_and_the_stored_score_keeps_it(
    client: TestClient, score_key: dict[str, str], db: Session, region_data: Path
) -> None:
    [odd] = region_bodies(region_data, "odd", 1)
    [other] = region_bodies(region_data, "slice", 1)
    answer = client.post("/v1/predict", json=odd, headers=score_key)
    assert answer.status_code == 200
    assert answer.json()["model_segment"] == "odd"
    answer = client.post("/v1/predict", json=other, headers=score_key)
    assert answer.json()["model_segment"] is None  # the slice's model was not used
    stored = db.get(Customer, "odd-0")
    assert stored is not None
    assert stored.latest_score is not None
    assert stored.latest_score["seg"] == "odd"
    shown = client.get("/v1/customers/odd-0", headers=score_key).json()["latest_score"]
    assert shown["model_segment"] == "odd"
    shown = client.get("/v1/customers/slice-0", headers=score_key).json()["latest_score"]
    assert shown["model_segment"] is None


def test_a_batch_names_each_customers_model(
    client: TestClient, score_key: dict[str, str], region_data: Path
) -> None:
    bodies = region_bodies(region_data, "odd", 3) + region_bodies(region_data, "main", 3)
    bodies[1]["extras"] = {"segment": "a region never seen"}
    del bodies[2]["extras"]
    answer = client.post("/v1/predict/batch", json={"customers": bodies}, headers=score_key)
    assert answer.status_code == 200
    segments = [r["model_segment"] for r in answer.json()["results"]]
    assert segments == ["odd", None, None, None, None, None]
