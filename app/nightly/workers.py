"""Start the nightly run's worker processes, early and cheaply.

A worker's start-up is a Python start and the scoring stack's imports (LightGBM brings
scikit-learn and SciPy): about two seconds, which the run used to wait through after its
own start-up. `dealnode rescore` starts its workers first, from this module, which imports
nothing heavy, so both start-ups run side by side on the machine's two cores.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from sqlalchemy.engine import make_url

from app.errors import InvalidInput
from app.nightly.worker_setup import WorkerSetup


def start_workers(count: int, setup: WorkerSetup) -> ProcessPoolExecutor:
    """Start `count` worker processes now; the pool runs `app.nightly.chunk_scoring`'s tasks."""
    worker_database_url(setup.database_url)  # refuse an in-memory database before starting
    # "spawn": a forked child would inherit OpenMP's threads in an unusable state.
    pool = ProcessPoolExecutor(
        max_workers=count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(setup,),
    )
    for _ in range(count):  # a pool starts a process per task waiting for one
        pool.submit(_started)
    return pool


def worker_database_url(url: str) -> str:
    """`url`, checked that a worker process can reach it.

    InvalidInput for an in-memory SQLite database: a worker would open its own, empty one,
    read nothing and let the run move its cursor past every customer.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise InvalidInput(
            "worker processes cannot reach an in-memory database; use --workers 0",
            field="workers",
        )
    return url


def _start(setup: WorkerSetup) -> None:
    from app.nightly.chunk_scoring import start_worker  # the heavy imports, in the worker only

    start_worker(setup)


def _started() -> None:
    """Nothing: submitting it makes the pool start a worker now."""
