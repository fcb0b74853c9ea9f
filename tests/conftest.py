"""Shared fixtures: one simulated dataset and one model trained on it, per test run.

Training once per run keeps the suite fast; tests that change a registry copy the trained
model into a registry of their own, so no test sees another's changes. With pytest-xdist the
first worker to need the data or the model builds it in a folder every worker of the run sees,
under a file lock, and the others read it back: two cores would otherwise spend their first
half-minute building the same model twice.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

# Set before LightGBM's OpenMP runtime loads (here and in every child a test starts): with
# xdist workers and servers' processes sharing two cores, threads that spin while they wait
# for work take the cores from the threads that have work, and a fit slows down many times.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from tests.training.segment_data import write_region_snapshot
from training.simulation import Simulation, simulate
from training.train import TrainConfig, TrainResult, train

T = TypeVar("T")

SIM_CUSTOMERS = 50_000
SIM_SEED = 7


@contextmanager
def _exclusively(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock` (created if need be) across processes."""
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A folder shared by every xdist worker of this run (this session's own without xdist)."""
    if worker_id == "master":
        return tmp_path_factory.mktemp("run")
    return tmp_path_factory.getbasetemp().parent


@pytest.fixture(scope="session")
def simulation(run_dir: Path) -> Simulation:
    """A simulated customer base with its event log."""
    return _built_once(
        run_dir, "simulation", lambda: simulate(SIM_CUSTOMERS, seed=SIM_SEED, with_events=True)
    )


@pytest.fixture(scope="session")
def snapshot_path(simulation: Simulation, run_dir: Path) -> Path:
    """The simulation's labelled snapshot as a Parquet file."""
    path = run_dir / "data" / "snapshot.parquet"
    with _exclusively(run_dir / "snapshot.lock"):
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            staged = path.with_suffix(".partial")
            simulation.snapshot.to_parquet(staged, index=False)
            staged.rename(path)
    return path


@pytest.fixture(scope="session")
def trained(snapshot_path: Path, run_dir: Path) -> TrainResult:
    """A model trained on the snapshot, promoted in a run-wide registry nobody changes."""
    return _built_once(
        run_dir,
        "trained",
        lambda: train(TrainConfig(data=snapshot_path, models_dir=run_dir / "registry", seed=0)),
    )


@pytest.fixture
def registry_dir(trained: TrainResult, tmp_path: Path) -> Path:
    """A private copy of the session registry that a test may change."""
    target = tmp_path / "models"
    shutil.copytree(trained.path.parent, target)
    return target


@pytest.fixture(scope="session")
def region_data(run_dir: Path) -> Path:
    """A few thousand customers whose `segment` column holds regions, one with rules of its own
    (`tests/training/segment_data.py`)."""
    folder = run_dir / "regions"
    return _built_once(
        run_dir, "regions", lambda: write_region_snapshot(_made(folder) / "snapshot.parquet")
    )


@pytest.fixture(scope="session")
def segmented(region_data: Path, run_dir: Path) -> TrainResult:
    """A family of models trained with `--segment-by segment` on `region_data`, promoted."""
    models_dir = run_dir / "segmented"
    return _built_once(
        run_dir,
        "segmented",
        lambda: train(TrainConfig(data=region_data, models_dir=models_dir, segment_by="segment")),
    )


def _built_once(run_dir: Path, name: str, build: Callable[[], T]) -> T:
    """`build()` made by the first worker to ask, under a lock, and read back by the others."""
    stored = run_dir / f"{name}.pickle"
    with _exclusively(run_dir / f"{name}.lock"):
        if not stored.exists():
            built = build()
            staged = stored.with_suffix(".partial")
            staged.write_bytes(pickle.dumps(built))
            staged.rename(stored)
            return built
    loaded: T = pickle.loads(stored.read_bytes())
    return loaded


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
