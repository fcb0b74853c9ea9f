"""Nightly rescoring: `dealnode rescore` rescores every customer as of the run's time.

Scores decay: a customer silent for six weeks is not `intent` any more though no event came.
Customers are streamed in keyset-ordered chunks (never the whole table in memory); each chunk
is one transaction: inputs rebuilt as of the run's time with the shared feature module, one
vectorised model call, then scores, history and outbox rows written in bulk together with the
shard's cursor. A customer a webhook rescored after the chunk was read fails the row-version
check and is read and scored again, so the run never overwrites a newer score with its
older view.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.jobs import runs
from app.jobs.chunks import Chunk, next_chunk, reread
from app.jobs.runs import Claim, Shard, Transitions
from app.jobs.writes import Scored, write_chunk
from app.scoring.scorer import Scorer, Serving
from training.design import design_array
from training.features import RAW_COUNT_INPUTS, epoch_seconds_of, feature_matrix, raw_values

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


def rescore_all(
    sessions: Callable[[], Session],
    scorer: Scorer,
    *,
    as_of: datetime | None = None,
    chunk_size: int = 5000,
    dry_run: bool = False,
    run: str | None = None,
    shard: Shard | None = None,
    resume: str | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> RunSummary:
    """Rescore every customer of `shard` (default: all) as of `as_of` (default now).

    `run` names a run for its shards to join; `resume` continues a run whose process died,
    after its last committed chunk and as of its own time. Conflict if another run holds
    the lock.
    """
    serving = scorer.serving  # one model for the whole run
    claim = runs.claim(
        sessions,
        run_id=resume or run,
        shard=shard or Shard(),
        version=serving.model.version,
        as_of=as_of,
        dry_run=dry_run,
        resume=resume is not None,
    )
    try:
        _run(sessions, scorer, serving, claim, chunk_size, on_chunk)
    except BaseException as exc:
        runs.finish(sessions, claim, status="failed", error=str(exc)[:500] or type(exc).__name__)
        raise
    runs.finish(sessions, claim, status="dry-run" if claim.dry_run else "succeeded")
    return RunSummary(claim.run_id, claim.shard, claim.rows, claim.changes, claim.transitions)


def _run(
    sessions: Callable[[], Session],
    scorer: Scorer,
    serving: Serving,
    claim: Claim,
    size: int,
    on_chunk: Callable[[int], None] | None,
) -> None:
    """Read and score chunk k+1 while a second thread writes chunk k.

    The database does its share of the work (and sqlite3 and psycopg release the GIL while
    it does), so the two overlap on two cores. Chunks are written one at a time and in
    order, each with its cursor, so a crash leaves the same state as without the overlap:
    every committed chunk and the cursor after the last.
    """
    layout = serving.model.layout
    with_extras = bool(layout.extra_numeric or layout.extra_categorical)
    cursor = claim.cursor
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rescore-write") as writer:
        writing: Future[None] | None = None
        while True:
            with sessions() as session:
                chunk = next_chunk(
                    session,
                    after=cursor,
                    size=size,
                    shard=claim.shard,
                    as_of=claim.as_of,
                    with_extras=with_extras,
                )
            scored = None if chunk is None else score_chunk(scorer, serving, chunk, claim.as_of)
            if writing is not None:
                writing.result()  # the previous chunk is stored (or its error raised here)
                if on_chunk is not None:
                    on_chunk(claim.rows)
            if scored is None:
                return
            cursor = scored.ids[-1]
            writing = writer.submit(_store, sessions, scorer, serving, claim, scored, with_extras)


def _store(
    sessions: Callable[[], Session],
    scorer: Scorer,
    serving: Serving,
    claim: Claim,
    scored: Scored,
    with_extras: bool,
) -> None:
    """Write a scored chunk with the shard's cursor and counts in one transaction."""
    last, rows = scored.ids[-1], claim.rows + len(scored)
    with sessions() as session:
        if not claim.dry_run:
            scored = _write(session, scorer, serving, scored, claim.as_of, with_extras)
        transitions = {old: dict(row) for old, row in claim.transitions.items()}
        changes = 0
        for old, read in zip(scored.old_states, scored.reads, strict=True):
            if old is not None:
                transitions[old][read["state"]] += 1
                changes += old != read["state"]
        if not claim.dry_run:
            runs.save_progress(
                session,
                claim,
                cursor=last,
                rows=rows,
                changes=claim.changes + changes,
                transitions=transitions,
            )
            session.commit()  # the chunk and the shard's cursor, atomically
    claim.cursor, claim.rows = last, rows
    claim.changes += changes
    claim.transitions = transitions


def _write(
    session: Session,
    scorer: Scorer,
    serving: Serving,
    scored: Scored,
    as_of: datetime,
    with_extras: bool,
) -> Scored:
    """Write the chunk; customers changed meanwhile are read and scored again."""
    done: Scored | None = None
    pending = scored
    version = serving.model.version
    for attempt in range(RETRIES):
        written = write_chunk(session, pending, as_of=as_of, model_version=version)
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
        pending = score_chunk(scorer, serving, fresh, as_of)
    raise AssertionError("unreachable: the last attempt returns or raises")


def score_chunk(scorer: Scorer, serving: Serving, chunk: Chunk, as_of: datetime) -> Scored:
    """Score a chunk in one model call; the columns its write needs."""
    layout = serving.model.layout
    extras = {
        name: [e.get(name) for e in chunk.extras]
        for name in layout.extra_numeric + layout.extra_categorical
    }
    core = feature_matrix(raw_values(chunk.raw), epoch_seconds_of(as_of))
    matrix = design_array(core, extras, layout)
    reads = scorer.predict(
        matrix, chunk.kinds, as_of=as_of, customer_ids=chunk.ids, serving=serving
    )
    counts = chunk.raw[list(RAW_COUNT_INPUTS)].to_numpy(np.float64)
    stored = np.nan_to_num(counts).astype(np.int64).astype(object)
    stored[np.isnan(counts)] = None
    return Scored(
        ids=chunk.ids,
        versions=chunk.versions.tolist(),
        old_states=chunk.states,
        counts=[tuple(row) for row in stored.tolist()],
        reads=reads,
    )
