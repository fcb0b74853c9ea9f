"""Read and score the nightly run's chunks, here or in worker processes.

Python runs one thread at a time and most of reading and scoring a chunk is Python, so a
second core helps only through a second process. A worker is told where its chunk lies (a
`Span` of ids), reads it with its own connection, scores it, and sends back what the write
needs, the score documents already as JSON text: cheap to pass between processes. Writing,
the cursor and the lock stay with the run's own process, so a crash or a resume behaves the
same with workers or without.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime

import numpy as np
import orjson
from sqlalchemy.orm import Session, sessionmaker

from app import heap
from app.db import make_engine, make_sessionmaker
from app.nightly.chunk_writes import ScoredChunk
from app.nightly.chunks import Chunk, Span, read_span
from app.nightly.worker_setup import WorkerSetup
from app.scoring.advice import Advisor
from app.scoring.serving import ServingModel
from app.scoring.state_changes import risk_rose
from training import vetting
from training.features import RAW_COUNT_INPUTS
from training.prediction import Predictor, RawInputs


def score_chunk(
    advisor: Advisor, predictor: Predictor, chunk: Chunk, as_of: datetime
) -> ScoredChunk:
    """Score a chunk in one model call; the columns its write needs."""
    inputs = RawInputs.of_columns(chunk.values, chunk.extras)
    scores = advisor.score(predictor, inputs, chunk.kinds, as_of=as_of)
    counts = np.column_stack([chunk.values[name] for name in RAW_COUNT_INPUTS])
    stored = np.nan_to_num(counts).astype(np.int64).astype(object)
    stored[np.isnan(counts)] = None
    dumps = orjson.dumps
    risks = scores.at_risk_probabilities
    return ScoredChunk(
        ids=chunk.ids,
        versions=chunk.versions.tolist(),
        old_states=chunk.states,
        counts=[tuple(row) for row in stored.tolist()],
        states=scores.states,
        confidence=scores.confidence,
        action_codes=[action["code"] for action in scores.actions],
        at_risk=risks,
        risk_rose=[
            risk_rose(old, new, advisor.at_risk_threshold)
            for old, new in zip(chunk.risks, risks, strict=True)
        ],
        documents=[dumps(document).decode() for document in scores.documents()],
    )


class InProcessChunkScorer:
    """Reads and scores chunks in this process: each future is done when `submit` returns."""

    depth = 1
    """Chunks worth having in flight at once."""

    def __init__(
        self, sessions: Callable[[], Session], advisor: Advisor, predictor: Predictor
    ) -> None:
        self.sessions = sessions
        self.advisor = advisor
        self.predictor = predictor

    def submit(self, span: Span, as_of: datetime) -> Future[ScoredChunk]:
        """Read and score the chunk at `span`; its result, or its error, is in the future."""
        future: Future[ScoredChunk] = Future()
        try:
            future.set_result(
                _read_and_score(self.sessions, self.advisor, self.predictor, span, as_of)
            )
        except Exception as exc:
            future.set_exception(exc)
        return future

    def close(self) -> None:
        """Release the workers (none here)."""


class WorkerPoolChunkScorer(InProcessChunkScorer):
    """Reads and scores chunks in a pool's worker processes (`workers.start_workers`), each
    with its own model and connection."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        advisor: Advisor,
        predictor: Predictor,
        *,
        pool: ProcessPoolExecutor,
        workers: int,
    ) -> None:
        super().__init__(sessions, advisor, predictor)
        self.pool = pool
        self.depth = workers + 1  # one more than the workers: none waits while one is written

    def submit(self, span: Span, as_of: datetime) -> Future[ScoredChunk]:
        model = self.predictor.model
        return self.pool.submit(
            _read_and_score_in_worker, span, as_of, model.version, model.checksums
        )

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _read_and_score(
    sessions: Callable[[], Session],
    advisor: Advisor,
    predictor: Predictor,
    span: Span,
    as_of: datetime,
) -> ScoredChunk:
    layout = predictor.model.layout
    with sessions() as session:
        chunk = read_span(
            session,
            span,
            as_of=as_of,
            with_extras=bool(layout.extra_numeric or layout.extra_categorical),
        )
    if chunk is None:
        return ScoredChunk.empty()
    return score_chunk(advisor, predictor, chunk, as_of)


class _Worker:
    """What a worker process keeps between chunks: its model, advisor and database sessions."""

    serving: ServingModel
    advisor: Advisor
    sessions: sessionmaker[Session]


def start_worker(setup: WorkerSetup) -> None:
    """Load what a worker keeps between chunks (the pool's initializer, `workers.py`).

    No model yet: the first chunk names the run's model and the checksum the run's process
    vetted, so the worker loads exactly that model without vetting it a second time.
    """
    _exit_with_parent()
    # One thread each: the run's own process needs a core for writing.
    _Worker.serving = ServingModel(setup.models_dir, threads=1)
    _Worker.advisor = Advisor(setup.playbook, setup.low_confidence, setup.at_risk_threshold)
    _Worker.sessions = make_sessionmaker(make_engine(setup.database_url))
    heap.settle()
    heap.keep_freed_memory()


def _read_and_score_in_worker(
    span: Span, as_of: datetime, version: str, checksums: tuple[str, ...]
) -> ScoredChunk:
    serving = _Worker.serving
    if not serving.loaded or serving.model.version != version:
        for checksum in checksums:  # vetted by the run; a file changed since is vetted anew
            vetting.remember(checksum)
        serving.activate(version)
    return _read_and_score(_Worker.sessions, _Worker.advisor, serving.predictor, span, as_of)


def _exit_with_parent() -> None:
    """End this worker when the run's process dies, even by SIGKILL: a pool's workers
    otherwise wait for work forever, holding a model's worth of memory each."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
