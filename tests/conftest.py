"""Shared fixtures: one simulated dataset and one model trained on it, per test session.

Training once per session keeps the suite fast; tests that change a registry copy the trained
model into a registry of their own, so no test sees another's changes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Set before LightGBM's OpenMP runtime loads (here and in every child a test starts): with
# xdist workers and servers' processes sharing two cores, threads that spin while they wait
# for work take the cores from the threads that have work, and a fit slows down many times.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from tests.training.segment_data import write_region_snapshot
from training.simulation import Simulation, simulate
from training.train import TrainConfig, TrainResult, train

SIM_CUSTOMERS = 50_000
SIM_SEED = 7


@pytest.fixture(scope="session")
def simulation() -> Simulation:
    """A simulated customer base with its event log."""
    return simulate(SIM_CUSTOMERS, seed=SIM_SEED, with_events=True)


@pytest.fixture(scope="session")
def snapshot_path(simulation: Simulation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulation's labelled snapshot as a Parquet file."""
    path = tmp_path_factory.mktemp("data") / "snapshot.parquet"
    simulation.snapshot.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="session")
def trained(snapshot_path: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """A model trained on the snapshot, promoted in a session-wide registry."""
    models_dir = tmp_path_factory.mktemp("registry")
    return train(TrainConfig(data=snapshot_path, models_dir=models_dir, seed=0))


@pytest.fixture
def registry_dir(trained: TrainResult, tmp_path: Path) -> Path:
    """A private copy of the session registry that a test may change."""
    target = tmp_path / "models"
    shutil.copytree(trained.path.parent, target)
    return target


@pytest.fixture(scope="session")
def region_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few thousand customers whose `segment` column holds regions, one with rules of its own
    (`tests/training/segment_data.py`)."""
    return write_region_snapshot(tmp_path_factory.mktemp("regions") / "snapshot.parquet")


@pytest.fixture(scope="session")
def segmented(region_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """A family of models trained with `--segment-by segment` on `region_data`, promoted."""
    models_dir = tmp_path_factory.mktemp("segmented")
    return train(TrainConfig(data=region_data, models_dir=models_dir, segment_by="segment"))
