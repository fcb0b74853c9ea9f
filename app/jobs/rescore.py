"""Nightly rescoring: `dealnode rescore` rescores every customer as of the run's time.

Scores decay: a customer silent for six weeks is not `intent` any more though no event came.
Customers are streamed in keyset-ordered chunks (never the whole table in memory); each chunk
is one transaction: inputs rebuilt as of the run's time, one vectorised model call, scores,
history and outbox rows written together. A customer changed by a webhook while the run holds
an older view of it is caught by the row-version check and the chunk is redone from fresh rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.errors import Conflict, NotFound
from app.scoring.scorer import Scorer
from app.scoring.service import record_score, to_json
from app.tables import Customer, InteractionEvent, JobLock, ScoringRun
from training.design import design_array
from training.features import (
    COUNT_INPUTS,
    RAW_COUNT_INPUTS,
    STATES,
    WINDOW_DAYS,
    epoch_seconds_of,
    feature_matrix,
    raw_inputs_from_events,
    raw_values,
)

LOCK = "rescore"
RETRIES = 3


@dataclass
class RunSummary:
    """What a run did (also stored in `scoring_run`)."""

    run_id: str
    rows: int = 0
    changes: int = 0
    transitions: dict[str, dict[str, int]] = field(
        default_factory=lambda: {a: dict.fromkeys(STATES, 0) for a in STATES}
    )


def stored_inputs(customers: Sequence[Customer], as_of: datetime) -> pd.DataFrame:
    """Raw inputs of customers known only from API calls, moved forward to `as_of`.

    Lifetime counts and contact times stay as stored. A window's count is known to be zero
    once the last contact falls outside the window; otherwise the stored count is kept, the
    best that can be known without the events.
    """
    frame = pd.DataFrame(
        {name: [getattr(c, name) for c in customers] for name in RAW_COUNT_INPUTS},
        dtype="float64",
    )
    last = pd.to_datetime(pd.Series([c.last_contact_at for c in customers], dtype=object), utc=True)
    firsts = pd.Series([c.first_contact_at for c in customers], dtype=object)
    frame["first_contact_at"] = pd.to_datetime(firsts, utc=True)
    frame["last_contact_at"] = last
    for days in WINDOW_DAYS:
        cutoff = pd.Timestamp(as_of) - timedelta(days=days)
        outside = ((last <= cutoff) | last.isna()).to_numpy(bool)
        for name in COUNT_INPUTS:
            column = f"{name}_{days}d"
            frame.loc[outside & frame[column].notna().to_numpy(), column] = 0.0
    frame.index = pd.Index([c.customer_id for c in customers], name="customer_id")
    return frame


def chunk_inputs(session: Session, customers: Sequence[Customer], as_of: datetime) -> pd.DataFrame:
    """Inputs as of `as_of`: exact from the event store where a customer has events."""
    ids = [c.customer_id for c in customers]
    history = session.execute(
        select(
            InteractionEvent.customer_id, InteractionEvent.type, InteractionEvent.occurred_at
        ).where(InteractionEvent.customer_id.in_(ids))
    ).all()
    raw = stored_inputs(customers, as_of)
    if history:
        events = pd.DataFrame(history, columns=["customer_id", "type", "occurred_at"])
        with_events = sorted(set(events["customer_id"]))
        exact = raw_inputs_from_events(events, as_of, customer_ids=with_events)
        raw.loc[with_events, exact.columns] = exact
    return raw


def rescore_all(
    sessions: Callable[[], Session],
    scorer: Scorer,
    *,
    as_of: datetime | None = None,
    chunk_size: int = 5000,
    dry_run: bool = False,
    resume: str | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> RunSummary:
    """Rescore every customer as of `as_of` (default now); raise Conflict if a run is going.

    With `resume`, continue that run after its last committed chunk, as of its own time: each
    chunk commits with the run's cursor, so every customer is scored exactly once per run.
    """
    model = scorer.model
    if resume is not None:
        summary, when, after = _take_over(sessions, resume, model.version)
    else:
        when = as_of or datetime.now(UTC)
        summary = RunSummary(run_id=uuid.uuid4().hex[:16])
        _start(sessions, summary.run_id, model.version, when, dry_run)
        after = ""
    try:
        while True:
            scored_upto = _chunk(sessions, scorer, summary, when, after, chunk_size, dry_run)
            if scored_upto is None:
                break
            after = scored_upto
            if on_chunk is not None:
                on_chunk(summary.rows)
    except BaseException as exc:
        _finish(sessions, summary, status="failed", error=str(exc)[:500] or type(exc).__name__)
        raise
    _finish(sessions, summary, status="dry-run" if dry_run else "succeeded")
    return summary


def _chunk(
    sessions: Callable[[], Session],
    scorer: Scorer,
    summary: RunSummary,
    as_of: datetime,
    after: str,
    size: int,
    dry_run: bool,
) -> str | None:
    for attempt in range(RETRIES):
        with sessions() as session:
            customers = list(
                session.scalars(
                    select(Customer)
                    .where(Customer.customer_id > after)
                    .order_by(Customer.customer_id)
                    .limit(size)
                )
            )
            if not customers:
                return None
            raw = chunk_inputs(session, customers, as_of)
            serving = scorer.serving
            layout = serving.model.layout
            extras = {
                k: [(c.extras or {}).get(k) for c in customers]
                for k in layout.extra_numeric + layout.extra_categorical
            }
            matrix = design_array(
                feature_matrix(raw_values(raw), epoch_seconds_of(as_of)), extras, layout
            )
            kinds = [c.objection_kind for c in customers]
            predictions = scorer.predict(matrix, kinds, today=as_of.date(), serving=serving)
            moves: list[tuple[str, str]] = []
            transitions = {a: dict(row) for a, row in summary.transitions.items()}
            for customer, prediction in zip(customers, predictions, strict=True):
                read = to_json(prediction, customer.customer_id, as_of)
                if customer.state is not None:
                    moves.append((customer.state, read["state"]))
                if not dry_run:
                    _store_inputs(customer, raw.loc[customer.customer_id].to_dict(), as_of)
                    record_score(session, customer, read, now=as_of, source="rescore")
            for old, new in moves:
                transitions[old][new] += 1
            changes = sum(old != new for old, new in moves)
            try:
                if dry_run:
                    session.rollback()
                else:
                    run = session.get(ScoringRun, summary.run_id)
                    assert run is not None
                    run.cursor = customers[-1].customer_id
                    run.rows_scored = summary.rows + len(customers)
                    run.state_changes = summary.changes + changes
                    run.transitions = transitions
                    session.commit()  # the chunk and the run's cursor, atomically
            except StaleDataError:
                session.rollback()  # a webhook updated one of them: redo from fresh rows
                if attempt == RETRIES - 1:
                    raise
                continue
            summary.rows += len(customers)
            summary.transitions = transitions
            summary.changes += changes
            return customers[-1].customer_id
    return None


def _store_inputs(customer: Customer, row: dict[Any, Any], as_of: datetime) -> None:
    for name in RAW_COUNT_INPUTS:
        value = row[name]
        setattr(customer, name, None if pd.isna(value) else int(value))
    customer.inputs_as_of = as_of


def _start(
    sessions: Callable[[], Session], run_id: str, version: str, as_of: datetime, dry_run: bool
) -> None:
    now = datetime.now(UTC)
    with sessions() as session:
        session.add(JobLock(name=LOCK, run_id=run_id, acquired_at=now))
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            held = session.get(JobLock, LOCK)
            since = held.acquired_at.isoformat() if held else "just now"
            owner = held.run_id if held else "another run"
            raise Conflict(
                f"rescoring run {owner} is in progress since {since}; if it died, "
                "remove its lock with `dealnode rescore --break-lock`"
            ) from None
        session.add(
            ScoringRun(
                id=run_id,
                model_version=version,
                as_of=as_of,
                started_at=now,
                status="running",
                dry_run=dry_run,
                transitions={},
            )
        )
        session.commit()


def _take_over(
    sessions: Callable[[], Session], run_id: str, version: str
) -> tuple[RunSummary, datetime, str]:
    with sessions() as session:
        run = session.get(ScoringRun, run_id)
        if run is None:
            raise NotFound(f"no run {run_id!r} to resume", field="run_id")
        if run.status in {"succeeded", "dry-run"}:
            raise Conflict(f"run {run_id} already finished ({run.status})")
        if run.model_version != version:
            raise Conflict(
                f"run {run_id} scored with model {run.model_version}, not {version}; "
                "resume it with that model (--model) or start a new run"
            )
        held = session.get(JobLock, LOCK)
        if held is not None and held.run_id != run_id:
            raise Conflict(f"rescoring run {held.run_id} holds the lock; wait for it")
        if held is None:
            session.add(JobLock(name=LOCK, run_id=run_id, acquired_at=datetime.now(UTC)))
        run.status = "running"
        run.error = None
        session.commit()
        summary = RunSummary(run_id=run_id, rows=run.rows_scored, changes=run.state_changes)
        if run.transitions:
            summary.transitions = {a: dict(row) for a, row in run.transitions.items()}
        return summary, run.as_of, run.cursor or ""


def _finish(
    sessions: Callable[[], Session], summary: RunSummary, *, status: str, error: str | None = None
) -> None:
    with sessions() as session:
        run = session.get(ScoringRun, summary.run_id)
        if run is not None:
            run.status = status
            run.finished_at = datetime.now(UTC)
            run.rows_scored = summary.rows
            run.state_changes = summary.changes
            run.transitions = summary.transitions
            run.error = error
        session.execute(delete(JobLock).where(JobLock.name == LOCK))
        session.commit()


def break_lock(sessions: Callable[[], Session]) -> str | None:
    """Remove a dead run's lock; return the run id it belonged to (None if unlocked)."""
    with sessions() as session:
        held = session.get(JobLock, LOCK)
        if held is None:
            return None
        run_id = held.run_id
        session.delete(held)
        run = session.get(ScoringRun, run_id)
        if run is not None and run.status == "running":
            run.status = "abandoned"
        session.commit()
        return run_id
