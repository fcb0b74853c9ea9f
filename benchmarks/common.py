"""Helpers shared by the benchmarks: a timer and a simulated snapshot on disk."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def best_of(runs: int, action: Callable[[], T]) -> tuple[float, T]:
    """Best wall time of `runs` calls: the least disturbed by other load on a shared machine."""
    best = float("inf")
    result: T | None = None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


@contextmanager
def timed(label: str) -> Iterator[None]:
    """Print how long a setup step took, so a slow benchmark explains itself."""
    start = time.perf_counter()
    yield
    print(f"  ({label}: {time.perf_counter() - start:.1f} s)")


def snapshot_file(folder: Path, customers: int, seed: int = 0) -> Path:
    """Simulate `customers` once per folder and reuse the Parquet snapshot afterwards."""
    from training.simulation import simulate

    path = folder / f"snapshot_{customers}_{seed}.parquet"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with timed(f"simulate {customers:,} customers"):
            simulate(customers, seed=seed, with_events=False).snapshot.to_parquet(path, index=False)
    return path
