"""Model endpoints, hot activation under load, readiness and metrics."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from training.train import TrainResult


def test_models_lists_and_describes_the_serving_model(
    client: TestClient, score_key: dict[str, str], trained: TrainResult
) -> None:
    listed = client.get("/v1/models", headers=score_key).json()
    serving = [m for m in listed if m["serving"]]
    assert [m["version"] for m in serving] == [trained.version]
    current = client.get("/v1/models/current", headers=score_key).json()
    assert current["version"] == trained.version
    assert current["extra_inputs"]["categorical"] == ["segment"]
    assert current["metrics"]["model"]["macro_f1"] > 0


def test_activate_swaps_the_model_while_requests_keep_flowing(
    client: TestClient,
    score_key: dict[str, str],
    admin_key: dict[str, str],
    second_version: str,
    trained: TrainResult,
) -> None:
    failures: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def keep_predicting() -> None:
        for _ in range(400):
            if stop.is_set():
                return
            response = client.post("/v1/predict", json={"visits": 3}, headers=score_key)
            if response.status_code != 200:
                failures.append(response.status_code)
            else:
                versions.add(response.json()["model_version"])

    workers = [threading.Thread(target=keep_predicting) for _ in range(3)]
    for worker in workers:
        worker.start()
    for version in (second_version, trained.version, second_version):
        response = client.post(f"/v1/models/{version}/activate", headers=admin_key)
        assert response.status_code == 200
        assert response.json()["version"] == version
    stop.set()
    for worker in workers:
        worker.join()
    assert failures == []
    assert client.get("/v1/models/current", headers=score_key).json()["version"] == second_version
    assert second_version in versions


def test_activate_unknown_version_is_404(client: TestClient, admin_key: dict[str, str]) -> None:
    response = client.post("/v1/models/1999-01-01_none/activate", headers=admin_key)
    assert response.status_code == 404


def test_without_a_model_predictions_are_503_and_not_ready(
    settings: Settings, tmp_path: Path, score_key: dict[str, str]
) -> None:
    empty = settings.model_copy(update={"models_dir": tmp_path / "empty"})
    with TestClient(create_app(empty)) as client:
        assert client.get("/readyz").status_code == 503
        response = client.post("/v1/predict", json={"visits": 1}, headers=score_key)
        assert response.status_code == 503
        assert response.json()["code"] == "model_unavailable"
        assert client.get("/healthz").status_code == 200


def test_metrics_expose_latency_predictions_and_model(
    client: TestClient, score_key: dict[str, str], trained: TrainResult
) -> None:
    state = client.post("/v1/predict", json={"visits": 2}, headers=score_key).json()["state"]
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=score_key).text
    assert (
        'dealnode_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/predict"'
        in text
    )
    assert f'dealnode_predictions_total{{state="{state}"}} 1.0' in text
    assert f'dealnode_model_info{{version="{trained.version}"}} 1.0' in text
