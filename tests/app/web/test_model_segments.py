"""The model page names the segment column and the segments that have a model of their own."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.app.web.signing_in import sign_in


@pytest.fixture
def registry_dir(segmented_registry_dir: Path) -> Path:
    return segmented_registry_dir


def test_the_page_names_the_segment_models_the_api_names(
    client: TestClient, score_key: dict[str, str]
) -> None:
    current = client.get("/v1/models/current", headers=score_key).json()
    assert current["segments_used"] == ["odd"]
    sign_in(client, score_key)
    html = client.get("/app/models").text
    said = html.split('id="segments">')[1].split("</p>")[0]
    assert f"split by <code>{current['segment_by']}</code>" in said
    assert "is <code>odd</code> are scored by a model of their own" in said
    assert "every other customer by the global model" in said
    assert 'id="calibration"' in html  # the family's test set, scored through the family
