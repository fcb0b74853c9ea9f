"""The nightly run stores which segment model scored each customer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.tables import Customer
from tests.app.nightly.helpers import rescore, runtime_of
from tests.app.scoring.test_model_segment import region_bodies


@pytest.fixture
def registry_dir(segmented_registry_dir: Path) -> Path:
    return segmented_registry_dir


@pytest.mark.parametrize("workers", [0, 1], ids=["here", "in-a-worker"])
def test_rescore_stores_the_segment_of_each_customer(
    client: TestClient, score_key: dict[str, str], db: Session, region_data: Path, workers: int
) -> None:
    bodies = region_bodies(region_data, "odd", 12) + region_bodies(region_data, "slice", 12)
    answer = client.post("/v1/predict/batch", json={"customers": bodies}, headers=score_key)
    assert answer.status_code == 200
    # Forget what the API stored, so what is checked below is what the run wrote.
    db.execute(update(Customer).values(latest_score=None))
    db.commit()
    as_of = pd.read_parquet(region_data)["as_of"].iloc[0].to_pydatetime() + timedelta(days=30)
    rescore(runtime_of(client), as_of=as_of, chunk_size=10, workers=workers)
    db.expire_all()
    stored = {c.customer_id: c.latest_score for c in db.scalars(select(Customer))}
    assert len(stored) == 24
    for customer_id, document in stored.items():
        assert document is not None
        assert document.get("seg") == ("odd" if customer_id.startswith("odd") else None)
    shown = client.get("/v1/customers/odd-3", headers=score_key).json()["latest_score"]
    assert shown["model_segment"] == "odd"
