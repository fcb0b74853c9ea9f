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
from app.scoring.service import to_json
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
        while _chunk(sessions, scorer, serving, claim, chunk_size):
            if on_chunk is not None:
                on_chunk(claim.rows)
    except BaseException as exc:
        runs.finish(sessions, claim, status="failed", error=str(exc)[:500] or type(exc).__name__)
        raise
    runs.finish(sessions, claim, status="dry-run" if claim.dry_run else "succeeded")
    return RunSummary(claim.run_id, claim.shard, claim.rows, claim.changes, claim.transitions)


def _chunk(
    sessions: Callable[[], Session], scorer: Scorer, serving: Serving, claim: Claim, size: int
) -> bool:
    """Score and store the next chunk in one transaction; False when none is left."""
    layout = serving.model.layout
    with_extras = bool(layout.extra_numeric or layout.extra_categorical)
    as_of = claim.as_of
    with sessions() as session:
        chunk = next_chunk(
            session,
            after=claim.cursor,
            size=size,
            shard=claim.shard,
            as_of=as_of,
            with_extras=with_extras,
        )
        if chunk is None:
            return False
        scored = score_chunk(scorer, serving, chunk, as_of)
        if not claim.dry_run:
            scored = _write(session, scorer, serving, scored, as_of, with_extras)
        transitions = {old: dict(row) for old, row in claim.transitions.items()}
        changes = 0
        for row in scored:
            if row.old_state is not None:
                transitions[row.old_state][row.read["state"]] += 1
                changes += row.old_state != row.read["state"]
        rows = claim.rows + len(chunk)
        if claim.dry_run:
            session.rollback()
        else:
            runs.save_progress(
                session,
                claim,
                cursor=chunk.ids[-1],
                rows=rows,
                changes=claim.changes + changes,
                transitions=transitions,
            )
            session.commit()  # the chunk and the shard's cursor, atomically
    claim.cursor, claim.rows = chunk.ids[-1], rows
    claim.changes += changes
    claim.transitions = transitions
    return True


def _write(
    session: Session,
    scorer: Scorer,
    serving: Serving,
    scored: list[Scored],
    as_of: datetime,
    with_extras: bool,
) -> list[Scored]:
    """Write the chunk; customers changed meanwhile are read and scored again."""
    done: list[Scored] = []
    pending = scored
    version = serving.model.version
    for attempt in range(RETRIES):
        written = write_chunk(session, pending, as_of=as_of, model_version=version)
        done += [row for row in pending if row.customer_id in written]
        stale = [row.customer_id for row in pending if row.customer_id not in written]
        if not stale:
            return done
        if attempt == RETRIES - 1:
            raise Conflict(
                f"{len(stale)} customers (e.g. {stale[0]}) changed on every try; run again"
            )
        fresh = reread(session, stale, as_of=as_of, with_extras=with_extras)
        pending = [] if fresh is None else score_chunk(scorer, serving, fresh, as_of)
    return done


def score_chunk(scorer: Scorer, serving: Serving, chunk: Chunk, as_of: datetime) -> list[Scored]:
    """Score a chunk in one model call; each row carries what its write needs."""
    layout = serving.model.layout
    extras = {
        name: [e.get(name) for e in chunk.extras]
        for name in layout.extra_numeric + layout.extra_categorical
    }
    core = feature_matrix(raw_values(chunk.raw), epoch_seconds_of(as_of))
    matrix = design_array(core, extras, layout)
    predictions = scorer.predict(matrix, chunk.kinds, today=as_of.date(), serving=serving)
    counts = chunk.raw[list(RAW_COUNT_INPUTS)].to_numpy(np.float64)
    stored = np.nan_to_num(counts).astype(np.int64).astype(object)
    stored[np.isnan(counts)] = None
    return [
        Scored(
            customer_id=customer_id,
            row_version=int(version),
            old_state=old_state,
            counts=tuple(values),
            read=to_json(prediction, customer_id, as_of),
        )
        for customer_id, version, old_state, values, prediction in zip(
            chunk.ids, chunk.versions, chunk.states, stored.tolist(), predictions, strict=True
        )
    ]
