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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Set before LightGBM's OpenMP runtime loads (here and in every child a test starts): with
# xdist workers and servers' processes sharing two cores, threads that spin while they wait
# for work take the cores from the threads that have work, and a fit slows down many times.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from training.simulation import Simulation, simulate
from training.train import TrainConfig, TrainResult, train

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
    stored = run_dir / "simulation.pickle"
    with _exclusively(run_dir / "simulation.lock"):
        if not stored.exists():
            built = simulate(SIM_CUSTOMERS, seed=SIM_SEED, with_events=True)
            _write_atomically(stored, pickle.dumps(built))
            return built
    loaded: Simulation = pickle.loads(stored.read_bytes())
    return loaded


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
    stored = run_dir / "trained.pickle"
    with _exclusively(run_dir / "trained.lock"):
        if not stored.exists():
            result = train(TrainConfig(data=snapshot_path, models_dir=run_dir / "registry", seed=0))
            _write_atomically(stored, pickle.dumps(result))
            return result
    loaded: TrainResult = pickle.loads(stored.read_bytes())
    return loaded


@pytest.fixture
def registry_dir(trained: TrainResult, tmp_path: Path) -> Path:
    """A private copy of the session registry that a test may change."""
    target = tmp_path / "models"
    shutil.copytree(trained.path.parent, target)
    return target


def _write_atomically(path: Path, data: bytes) -> None:
    staged = path.with_suffix(".partial")
    staged.write_bytes(data)
    staged.rename(path)
