"""The active model is one fact in the database: every process follows an activation within
seconds, a restart keeps it, a pin overrides it, and the nightly run scores with it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import build_runtime, create_app
from app.metrics import Metrics
from app.models_api import active
from app.models_api.follower import ModelFollower
from app.services import build_services
from app.tables import ActiveModel
from tests.app.live_server import Server, serve, server_env
from tests.app.waiting import eventually
from training import registry
from training.train import TrainResult

FOLLOW_SECONDS = 30.0
"""Bound for a process to follow (the poll is far shorter; vetting a model takes ~1 s)."""


def test_an_activation_reaches_every_process_and_survives_a_restart(
    settings: Settings,
    score_key: dict[str, str],
    admin_key: dict[str, str],
    second_version: str,
    trained: TrainResult,
    db: Session,
) -> None:
    fast = settings.model_copy(update={"active_model_poll_seconds": 0.05})
    with TestClient(create_app(fast)) as one, TestClient(create_app(fast)) as other:

        def current(client: TestClient) -> str:
            version: str = client.get("/v1/models/current", headers=score_key).json()["version"]
            return version

        assert current(one) == current(other) == trained.version
        response = one.post(f"/v1/models/{second_version}/activate", headers=admin_key)
        assert response.status_code == 200
        assert current(one) == second_version
        eventually(
            lambda: current(other) == second_version,
            "the other process follows",
            seconds=FOLLOW_SECONDS,
        )
        row = db.get(ActiveModel, 1)
        assert row is not None
        assert (row.version, row.activated_by) == (second_version, "test-admin")
    with TestClient(create_app(settings)) as restarted:
        assert current(restarted) == second_version


def test_a_pin_overrides_the_activation_and_refuses_new_ones(
    settings: Settings,
    score_key: dict[str, str],
    admin_key: dict[str, str],
    second_version: str,
    trained: TrainResult,
    db: Session,
) -> None:
    active.record(db, second_version, by="someone")
    db.commit()
    pinned = settings.model_copy(update={"model_version": trained.version})
    with TestClient(create_app(pinned)) as client:
        current = client.get("/v1/models/current", headers=score_key).json()
        assert current["version"] == trained.version
        response = client.post(f"/v1/models/{second_version}/activate", headers=admin_key)
        assert response.status_code == 409
        assert response.json()["field"] == "version"
        assert "DEALNODE_MODEL_VERSION" in response.json()["detail"]


def test_the_nightly_run_scores_with_the_active_model_unless_told_otherwise(
    settings: Settings, second_version: str, trained: TrainResult, db: Session
) -> None:
    active.record(db, second_version, by="someone")
    db.commit()
    as_rescore = build_services(settings, Metrics(), need_model=True)
    # `dealnode rescore --model` pins the version the same way.
    pinned = settings.model_copy(update={"model_version": trained.version})
    as_rescore_with_model = build_services(pinned, Metrics(), need_model=True)
    try:
        assert as_rescore.serving.model.version == second_version
        assert as_rescore_with_model.serving.model.version == trained.version
    finally:
        as_rescore.engine.dispose()
        as_rescore_with_model.engine.dispose()


@pytest.mark.slow
def test_two_workers_serve_the_activated_model_and_keep_it_after_a_restart(
    settings: Settings,
    registry_dir: Path,
    score_key: dict[str, str],
    admin_key: dict[str, str],
    second_version: str,
    trained: TrainResult,
    tmp_path: Path,
) -> None:
    env = server_env(settings.database_url, registry_dir, DEALNODE_ACTIVE_MODEL_POLL_SECONDS="0.5")
    log = tmp_path / "server.log"

    def answers(server: Server) -> dict[int, str]:
        """The version each worker process serves (asked again if the supervisor replaced a
        worker meanwhile: a paused worker can miss its health check on a loaded machine)."""
        for _ in range(3):
            workers = server.workers()
            assert len(workers) == 2
            versions = {}
            for worker in workers:
                status, body = server.get_from(worker, "/v1/models/current", score_key)
                assert status == 200, body
                versions[worker] = body["version"]
            if server.workers() == workers:
                return versions
        raise AssertionError("the workers kept being replaced")

    with serve(env, log, workers=2) as server:
        eventually(
            lambda: server.get("/readyz")[0] == 200, "the server is ready", seconds=FOLLOW_SECONDS
        )
        assert set(answers(server).values()) == {trained.version}
        status, body = server.call("POST", f"/v1/models/{second_version}/activate", admin_key)
        assert status == 200, body
        eventually(
            lambda: set(answers(server).values()) == {second_version},
            "both follow",
            seconds=FOLLOW_SECONDS,
        )
    with serve(env, log, workers=2) as server:
        eventually(
            lambda: server.get("/readyz")[0] == 200, "the server is ready", seconds=FOLLOW_SECONDS
        )
        assert set(answers(server).values()) == {second_version}


def test_the_later_of_an_activation_and_a_promotion_serves(
    settings: Settings,
    second_version: str,
    trained: TrainResult,
    db: Session,
) -> None:
    runtime = build_runtime(settings, Metrics())
    try:
        follower, models_dir = runtime.follower, settings.models_dir
        active.record(db, second_version, by="someone")
        db.commit()
        follower.sync()
        assert runtime.serving.model.version == second_version
        time.sleep(0.01)  # a promotion strictly after the activation, on any clock resolution
        registry.write_pointer(models_dir, trained.version)
        follower.sync()
        assert runtime.serving.model.version == trained.version
        active.record(db, second_version, by="someone")
        db.commit()
        follower.sync()
        assert runtime.serving.model.version == second_version
    finally:
        runtime.engine.dispose()


def test_a_model_that_could_not_load_is_tried_again_without_a_restart(
    settings: Settings,
    trained: TrainResult,
    db: Session,  # noqa: ARG001
) -> None:
    booster = settings.models_dir / trained.version / "model.txt"
    aside = booster.with_name("model.txt.aside")
    booster.rename(aside)  # as if the registry were still being copied in
    fast = settings.model_copy(update={"active_model_poll_seconds": 0.01})
    runtime = build_runtime(fast, Metrics())
    try:
        assert not runtime.serving.loaded
        assert runtime.follower.problem is not None
        aside.rename(booster)
        eventually(
            lambda: _synced(runtime.follower) and runtime.serving.loaded,
            "a retry",
            seconds=FOLLOW_SECONDS,
        )
        assert runtime.serving.model.version == trained.version
        assert runtime.follower.problem is None
    finally:
        runtime.engine.dispose()


def _synced(follower: ModelFollower) -> bool:
    follower.sync()
    return True


def test_an_activation_holds_against_a_registry_clock_running_ahead(
    settings: Settings,
    second_version: str,
    db: Session,  # noqa: ARG001
) -> None:
    pointer = settings.models_dir / registry.POINTER_FILE
    ahead = time.time() + 3600
    os.utime(pointer, (ahead, ahead))  # a file server whose clock is an hour fast
    runtime = build_runtime(settings, Metrics())
    try:
        runtime.follower.activate(second_version, by="someone")
        runtime.follower.sync()
        assert runtime.serving.model.version == second_version
        assert runtime.follower.choice().source == "activation"
    finally:
        runtime.engine.dispose()
