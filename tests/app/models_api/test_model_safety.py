"""A model file that crashes LightGBM, or fails its checksum, never takes a process down
and is reported in one line naming the real cause."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.tables import ActiveModel
from tests.app.cli.rescore_process import rescore_env, run_rescore
from tests.app.live_server import serve, server_env
from tests.broken_models import BROKEN, broken_copy
from training import registry
from training.train import TrainResult


def test_the_broken_copy_really_aborts_lightgbm(registry_dir: Path, trained: TrainResult) -> None:
    path = registry_dir / broken_copy(registry_dir, trained.version) / "model.txt"
    load = f"import lightgbm; lightgbm.Booster(model_file={str(path)!r})"
    done = subprocess.run(
        [sys.executable, "-c", load], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == -6  # SIGABRT: what the service must survive


def test_activation_refuses_a_model_that_crashes_lightgbm_and_keeps_serving(
    client: TestClient,
    score_key: dict[str, str],
    admin_key: dict[str, str],
    registry_dir: Path,
    trained: TrainResult,
    db: Session,
) -> None:
    broken = broken_copy(registry_dir, trained.version)
    response = client.post(f"/v1/models/{broken}/activate", headers=admin_key)
    assert response.status_code == 422
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("invalid_input", "version")
    assert "LightGBM crashed" in problem["detail"]
    assert "\n" not in problem["detail"]
    assert client.get("/v1/models/current", headers=score_key).json()["version"] == (
        trained.version
    )
    predicted = client.post("/v1/predict", json={"visits": 3}, headers=score_key)
    assert predicted.status_code == 200
    assert predicted.json()["model_version"] == trained.version
    assert db.get(ActiveModel, 1) is None  # nothing recorded for other processes to follow


@pytest.mark.slow
def test_a_server_whose_model_crashes_lightgbm_starts_not_ready_with_one_log_line(
    settings: Settings, registry_dir: Path, trained: TrainResult, tmp_path: Path
) -> None:
    broken = broken_copy(registry_dir, trained.version)
    registry.write_pointer(registry_dir, broken)
    env = server_env(settings.database_url, registry_dir)
    log = tmp_path / "server.log"
    with serve(env, log) as server:
        assert server.get("/readyz")[0] == 503
        assert server.get("/healthz")[0] == 200
        assert server.process.poll() is None
    lines = log.read_text().splitlines()
    about_it = [line for line in lines if broken in line]
    assert len(about_it) == 1, lines
    assert "LightGBM crashed" in about_it[0]
    assert not [line for line in lines if "LightGBM]" in line or "terminate" in line], lines


@pytest.mark.slow
def test_rescore_with_a_model_that_crashes_lightgbm_exits_2_in_one_line(
    settings: Settings, registry_dir: Path, trained: TrainResult, db: Session
) -> None:
    registry.write_pointer(registry_dir, broken_copy(registry_dir, trained.version))
    done = run_rescore(rescore_env(settings))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: model {BROKEN}: model.txt is malformed")
    assert "LightGBM crashed" in lines[0]
    assert db.query(ActiveModel).count() == 0


@pytest.mark.slow
def test_rescore_names_a_failed_checksum_in_one_line(
    settings: Settings, registry_dir: Path, trained: TrainResult, db: Session
) -> None:
    registry.write_pointer(
        registry_dir, broken_copy(registry_dir, trained.version, keep_checksum=True)
    )
    done = run_rescore(rescore_env(settings))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: model {BROKEN}: model.txt is corrupt or truncated (checksum)"
    ]
    assert db.query(ActiveModel).count() == 0
