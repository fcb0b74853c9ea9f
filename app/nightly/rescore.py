"""Nightly rescoring: `dealnode rescore` rescores every customer as of the run's time.

Scores decay: a customer silent for six weeks is not `intent` any more though no event came.
Customers are walked in keyset-ordered spans of ids (never the whole table in memory); each
chunk's inputs are rebuilt as of the run's time with the shared feature module and scored in
one vectorised model call (in worker processes with `workers`), then its scores, history and
outbox rows are written in bulk in one transaction together with the shard's cursor. A
customer a webhook rescored after the chunk was read fails the row-version check and is read
and scored again, so the run never overwrites a newer score with its older view.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.errors import Conflict
from app.nightly import lease
from app.nightly import run_records as runs
from app.nightly.chunk_scoring import (
    InProcessChunkScorer,
    WorkerPoolChunkScorer,
    score_chunk,
)
from app.nightly.chunk_writes import ScoredChunk, write_chunk
from app.nightly.chunks import Span, next_span, reread
from app.nightly.run_records import Claim, Shard, Transitions
from app.nightly.worker_setup import WorkerSetup
from app.nightly.workers import start_workers
from app.scoring.advice import Advisor
from app.scoring.serving import ServingModel
from training.prediction import Predictor

RETRIES = 3
"""Times a chunk reads again customers that webhooks keep changing, before giving up."""


@dataclass
class RunSummary:
    """What this process did for its run (the run record joins every shard's)."""

    run_id: str
    shard: Shard
    rows: int
    changes: int
    transitions: Transitions
    abandoned: str | None = None
    """A run that had died unfinished and was abandoned so that this one could start."""


def rescore_all(
    sessions: Callable[[], Session],
    serving: ServingModel,
    advisor: Advisor,
    *,
    as_of: datetime | None = None,
    chunk_size: int = 10_000,
    dry_run: bool = False,
    run: str | None = None,
    shard: Shard | None = None,
    resume: str | None = None,
    on_chunk: Callable[[int], None] | None = None,
    workers: int = 0,
    pool: ProcessPoolExecutor | None = None,
    lease_seconds: float = lease.DEFAULT_SECONDS,
) -> RunSummary:
    """Rescore every customer of `shard` (default: all) as of `as_of` (default now).

    `run` names a run for its shards to join; `resume` continues a run whose process died,
    after its last committed chunk and as of its own time. `workers` processes read and score
    the chunks while this one walks the ids and writes (see `_run`); `pool` holds them when
    the caller started them already (`workers.start_workers`), and is shut down at the end.
    Conflict while another run's lease is live; the lease lasts `lease_seconds` after this
    process last renewed it.
    """
    predictor = serving.predictor  # one model for the whole run
    try:
        claim = runs.claim(
            sessions,
            run_id=resume or run,
            shard=shard or Shard(),
            version=predictor.model.version,
            as_of=as_of,
            dry_run=dry_run,
            resume=resume is not None,
            lease_seconds=lease_seconds,
        )
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    try:
        with lease.Heartbeat(sessions, claim.run_id, lease_seconds):
            _run(sessions, advisor, predictor, claim, chunk_size, on_chunk, workers, pool)
    except BaseException as exc:
        runs.finish(sessions, claim, status="failed", error=str(exc)[:500] or type(exc).__name__)
        raise
    runs.finish(sessions, claim, status="dry-run" if claim.dry_run else "succeeded")
    return RunSummary(
        claim.run_id, claim.shard, claim.rows, claim.changes, claim.transitions, claim.abandoned
    )


def _run(
    sessions: Callable[[], Session],
    advisor: Advisor,
    predictor: Predictor,
    claim: Claim,
    size: int,
    on_chunk: Callable[[int], None] | None,
    workers: int,
    pool: ProcessPoolExecutor | None,
) -> None:
    """Walk the customers chunk by chunk; with `workers`, chunks are read and scored in that
    many processes while this one finds the next ones and writes the last
    (`chunk_scoring.py`).

    Chunks are written one at a time and in order, each with its cursor, so a crash leaves
    the same state with workers or without: every committed chunk and the cursor after the
    last; chunks read ahead are read again on resume.
    """
    if workers:
        if pool is None:
            models_dir = predictor.model.path.parent  # the registry the model came from
            setup = WorkerSetup.scoring_as(
                _database_url(sessions),
                models_dir,
                advisor.playbook,
                advisor.low_confidence,
                advisor.at_risk_threshold,
            )
            pool = start_workers(workers, setup)
        scoring: InProcessChunkScorer = WorkerPoolChunkScorer(
            sessions, advisor, predictor, pool=pool, workers=workers
        )
    else:
        scoring = InProcessChunkScorer(sessions, advisor, predictor)
    cursor = claim.cursor
    in_flight: deque[tuple[Span, Future[ScoredChunk]]] = deque()
    walked = False
    try:
        while True:
            while not walked and len(in_flight) < scoring.depth:
                with sessions() as session:
                    span = next_span(session, after=cursor, size=size, shard=claim.shard)
                if span is None:
                    walked = True
                else:
                    cursor = span.last
                    in_flight.append((span, scoring.submit(span, claim.as_of)))
            if not in_flight:
                return
            span, scoring_done = in_flight.popleft()
            _store(sessions, advisor, predictor, claim, span, scoring_done.result())
            if on_chunk is not None:
                on_chunk(claim.rows)
    finally:
        scoring.close()


def _database_url(sessions: Callable[[], Session]) -> str:
    """The run's database, password included, for workers to connect to."""
    with sessions() as session:
        return session.get_bind().engine.url.render_as_string(hide_password=False)


def _store(
    sessions: Callable[[], Session],
    advisor: Advisor,
    predictor: Predictor,
    claim: Claim,
    span: Span,
    scored: ScoredChunk,
) -> None:
    """Write a scored chunk with the shard's cursor and counts in one transaction."""
    rows = claim.rows + len(scored)
    with sessions() as session:
        if not claim.dry_run:
            runs.hold(session, claim)
            scored = _write(session, advisor, predictor, span, scored, claim.as_of)
        transitions = {old: dict(row) for old, row in claim.transitions.items()}
        changes = 0
        for old, new in zip(scored.old_states, scored.states, strict=True):
            if old is not None:
                transitions[old][new] += 1
                changes += old != new
        if not claim.dry_run:
            runs.save_progress(
                session,
                claim,
                cursor=span.last,
                rows=rows,
                changes=claim.changes + changes,
                transitions=transitions,
            )
            session.commit()  # the chunk and the shard's cursor, atomically
    claim.cursor, claim.rows = span.last, rows
    claim.changes += changes
    claim.transitions = transitions


def _write(
    session: Session,
    advisor: Advisor,
    predictor: Predictor,
    span: Span,
    scored: ScoredChunk,
    as_of: datetime,
) -> ScoredChunk:
    """Write the chunk at `span`; customers changed meanwhile are read and scored again."""
    layout = predictor.model.layout
    with_extras = bool(layout.extra_numeric or layout.extra_categorical)
    done: ScoredChunk | None = None
    pending = scored
    version = predictor.model.version
    for attempt in range(RETRIES):
        written = write_chunk(session, pending, span=span, as_of=as_of, model_version=version)
        kept = pending.take([i for i, c in enumerate(pending.ids) if c in written])
        done = kept if done is None else done + kept
        stale = [c for c in pending.ids if c not in written]
        if not stale:
            return done
        if attempt == RETRIES - 1:
            raise Conflict(
                f"{len(stale)} customers (e.g. {stale[0]}) changed on every try; run again"
            )
        fresh = reread(session, stale, as_of=as_of, with_extras=with_extras)
        if fresh is None:  # deleted meanwhile: nothing left to score
            return done
        pending = score_chunk(advisor, predictor, fresh, as_of)
    raise AssertionError("unreachable: the last attempt returns or raises")
