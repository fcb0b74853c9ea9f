"""The registry API says which column a model family is segmented by and which models it uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def registry_dir(segmented_registry_dir: Path) -> Path:
    return segmented_registry_dir


def test_current_model_and_versions_list_name_the_segment_models(
    client: TestClient, score_key: dict[str, str]
) -> None:
    current = client.get("/v1/models/current", headers=score_key).json()
    assert current["segment_by"] == "segment"
    assert current["segments_used"] == ["odd"]
    [listed] = client.get("/v1/models", headers=score_key).json()
    assert listed["segment_by"] == "segment"
    assert listed["segments_used"] == ["odd"]
