"""Run records and the database lock: who may rescore, which part, and what a run did.

A run is split into `shards` parts; each part is claimed by one process at a time. Three
rules keep every customer scored exactly once per run, whatever crashes:
- one run at a time: the run holds a lease (`lease.py`) its live processes renew; a process
  of another run is refused until the lease expires, and then takes it over, abandoning the
  dead run (whose processes can write nothing more: their shards are no longer running);
- one process per shard: each claim gets a fresh owner token and a chunk commits only while
  its process still owns the shard (`save_progress`), so after a take-over the old process
  can write nothing more;
- a shard's cursor commits with its chunk, so a resumed shard continues after the last chunk
  that was written.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.nightly import lease
from app.tables import JobLock, ScoringRun, ScoringRunShard
from training.features import STATES

RUN_NAME = re.compile(r"[A-Za-z0-9._-]{1,32}")
FINISHED = frozenset({"succeeded", "dry-run"})

Transitions = dict[str, dict[str, int]]


def empty_transitions() -> Transitions:
    """A from-state x to-state matrix of zeros, every state in funnel order."""
    return {a: dict.fromkeys(STATES, 0) for a in STATES}


@dataclass(frozen=True)
class Shard:
    """Part `index` of `count`: the customers whose `shard_key % count == index`."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Read `I/N`, e.g. `0/3`; InvalidInput names what is wrong."""
        match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
        if match is None:
            raise InvalidInput(f"shard {text!r} is not I/N, e.g. 0/3", field="shard")
        index, count = int(match[1]), int(match[2])
        if count < 1 or index >= count:
            raise InvalidInput(f"shard {text!r}: I must be in 0..N-1 and N >= 1", field="shard")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass
class Claim:
    """A process's hold on one shard of a run, and that shard's progress so far."""

    run_id: str
    shard: Shard
    owner: str
    as_of: datetime
    dry_run: bool
    cursor: str = ""
    rows: int = 0
    changes: int = 0
    transitions: Transitions = field(default_factory=empty_transitions)
    abandoned: str | None = None
    """The run that died unfinished and whose expired lease this claim took over."""


def claim(
    sessions: Callable[[], Session],
    *,
    run_id: str | None,
    shard: Shard,
    version: str,
    as_of: datetime | None,
    dry_run: bool,
    resume: bool,
    lease_seconds: float = lease.DEFAULT_SECONDS,
) -> Claim:
    """Start a run, join it (another shard), or take over a shard whose process died.

    A new run needs no name when it is not sharded; shards of one run share its name (e.g.
    the Kubernetes Job's). Conflict when another run's lease is live or the run's model,
    shard count or as-of differ from this process's.
    """
    if run_id is not None and not RUN_NAME.fullmatch(run_id):
        raise InvalidInput(
            f"run name {run_id!r}: 1 to 32 letters, digits, '.', '_' or '-'", field="run"
        )
    if run_id is None:
        if resume or shard.count > 1:
            raise InvalidInput("name the run (--run NAME) so its shards join it", field="run")
        run_id = uuid.uuid4().hex[:16]
    owner = uuid.uuid4().hex[:16]
    now = datetime.now(UTC)
    with sessions() as session:
        run = session.get(ScoringRun, run_id)
        if run is None and resume:
            raise NotFound(f"no run {run_id!r} to resume", field="run_id")
        if run is not None:
            _check_joinable(run, shard=shard, version=version, as_of=as_of)
        abandoned = lease.take(session, run_id, now, lease_seconds)
        if abandoned is not None:
            _abandon(session, abandoned)
        run = session.get(ScoringRun, run_id)  # the lock's holder may have created it
        if run is None:
            run = ScoringRun(
                id=run_id,
                model_version=version,
                as_of=as_of or now,
                started_at=now,
                status="running",
                dry_run=dry_run,
                transitions={},
                shards=shard.count,
            )
            session.add(run)
            session.flush()
        else:
            _check_joinable(run, shard=shard, version=version, as_of=as_of)
        run.status, run.error = "running", None
        part = session.get(ScoringRunShard, (run_id, shard.index))
        if part is None:
            part = ScoringRunShard(
                run_id=run_id, shard=shard.index, started_at=now, cursor="", transitions={}
            )
            session.add(part)
        elif part.status in FINISHED:
            raise Conflict(f"shard {shard} of run {run_id} has already finished")
        part.owner, part.status, part.error = owner, "running", None
        try:
            session.commit()
        except IntegrityError:
            raise Conflict(f"shard {shard} of run {run_id} was claimed at the same time") from None
        return Claim(
            run_id=run_id,
            shard=shard,
            owner=owner,
            as_of=run.as_of,
            dry_run=run.dry_run,
            cursor=part.cursor or "",
            rows=part.rows_scored or 0,
            changes=part.state_changes or 0,
            transitions=_full(part.transitions),
            abandoned=abandoned,
        )


def hold(session: Session, claim: Claim) -> None:
    """Check, in the chunk's transaction, that this process still owns its shard.

    Being a write, it also takes SQLite's write lock for the rest of the transaction, so
    nothing changes between the chunk's reading of row versions and its update.
    Conflict if another process has taken the shard over.
    """
    _owned(session, claim, {"owner": claim.owner})


def save_progress(
    session: Session,
    claim: Claim,
    *,
    cursor: str,
    rows: int,
    changes: int,
    transitions: Transitions,
) -> None:
    """Record the chunk's cursor and the shard's counts in the chunk's own transaction.

    Conflict if another process has taken the shard over: the caller rolls back the chunk.
    """
    _owned(
        session,
        claim,
        {
            "cursor": cursor,
            "rows_scored": rows,
            "state_changes": changes,
            "transitions": transitions,
        },
    )


def _owned(session: Session, claim: Claim, values: dict[str, Any]) -> None:
    done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(ScoringRunShard)
        .where(
            ScoringRunShard.run_id == claim.run_id,
            ScoringRunShard.shard == claim.shard.index,
            ScoringRunShard.owner == claim.owner,
            ScoringRunShard.status == "running",
        )
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == 0:
        raise Conflict(
            f"shard {claim.shard} of run {claim.run_id} was taken over by another process "
            "or abandoned"
        )


def finish(
    sessions: Callable[[], Session], claim: Claim, *, status: str, error: str | None = None
) -> None:
    """End this process's shard and, if it was the last one, the run: join counts, unlock."""
    now = datetime.now(UTC)
    with sessions() as session:
        session.execute(
            update(ScoringRunShard)
            .where(
                ScoringRunShard.run_id == claim.run_id,
                ScoringRunShard.shard == claim.shard.index,
                ScoringRunShard.owner == claim.owner,
                ScoringRunShard.status == "running",  # an abandoned shard stays so
            )
            .values(
                status=status,
                finished_at=now,
                error=error,
                rows_scored=claim.rows,
                state_changes=claim.changes,
                transitions=claim.transitions,
            )
            .execution_options(synchronize_session=False)
        )
        # Lock the run's row before reading the shards: of two shards ending at once, the
        # second waits here and then sees the first's end, so exactly one closes the run.
        session.execute(
            update(ScoringRun)
            .where(ScoringRun.id == claim.run_id)
            .values(status=ScoringRun.status)
            .execution_options(synchronize_session=False)
        )
        run = session.get(ScoringRun, claim.run_id)
        if run is not None and run.status != "abandoned":
            parts = list(
                session.scalars(
                    select(ScoringRunShard).where(ScoringRunShard.run_id == claim.run_id)
                )
            )
            _join(run, parts, now)
            if run.status != "running":
                session.execute(
                    delete(JobLock).where(
                        JobLock.name == lease.LOCK, JobLock.run_id == claim.run_id
                    )
                )
        session.commit()


def break_lock(sessions: Callable[[], Session]) -> str | None:
    """Remove a dead run's lock; return the run id it belonged to (None if unlocked)."""
    with sessions() as session:
        held = session.get(JobLock, lease.LOCK)
        if held is None:
            return None
        run_id = held.run_id
        session.delete(held)
        _abandon(session, run_id)
        session.commit()
        return run_id


def _abandon(session: Session, run_id: str) -> None:
    """Mark a dead run and its running shards abandoned; `--resume` can still finish it."""
    session.execute(
        update(ScoringRunShard)
        .where(ScoringRunShard.run_id == run_id, ScoringRunShard.status == "running")
        .values(status="abandoned")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ScoringRun)
        .where(ScoringRun.id == run_id, ScoringRun.status == "running")
        .values(status="abandoned")
        .execution_options(synchronize_session=False)
    )


def joined(parts: Iterable[ScoringRunShard]) -> tuple[int, int, Transitions]:
    """The run's rows, state changes and transitions: the sums over its shards."""
    rows = changes = 0
    matrix = empty_transitions()
    for part in parts:
        rows += part.rows_scored
        changes += part.state_changes
        for old, row in (part.transitions or {}).items():
            for new, count in row.items():
                matrix[old][new] += count
    return rows, changes, matrix


def _join(run: ScoringRun, parts: list[ScoringRunShard], now: datetime) -> None:
    run.rows_scored, run.state_changes, run.transitions = joined(parts)
    statuses = [p.status for p in parts]
    if len(parts) == run.shards and all(s in FINISHED for s in statuses):
        run.status = "dry-run" if run.dry_run else "succeeded"
        run.finished_at, run.error = now, None
    elif "running" not in statuses and any(s not in FINISHED for s in statuses):
        # Every shard that started has ended and one failed; shards never started keep the
        # run going until they come, or until its lease runs out and a new run takes over.
        run.status, run.finished_at = "failed", now
        run.error = next(p.error for p in parts if p.status not in FINISHED)


def _check_joinable(run: ScoringRun, *, shard: Shard, version: str, as_of: datetime | None) -> None:
    if run.status in FINISHED:
        raise Conflict(f"run {run.id} already finished ({run.status})")
    if run.model_version != version:
        raise Conflict(
            f"run {run.id} scores with model {run.model_version}, not {version}; "
            "use that model (--model) or start a new run"
        )
    if run.shards != shard.count:
        raise Conflict(f"run {run.id} has {run.shards} shard(s), not {shard.count}")
    if as_of is not None and run.as_of != as_of:
        raise Conflict(f"run {run.id} is as of {run.as_of.isoformat()}, not {as_of.isoformat()}")


def _full(transitions: Transitions | None) -> Transitions:
    matrix = empty_transitions()
    for old, row in (transitions or {}).items():
        matrix[old].update(row)
    return matrix
