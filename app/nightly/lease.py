"""The nightly run's lease: one run at a time, and a dead run's hold runs out on its own.

A run holds the `job_lock` row until `expires_at`; a thread of each of its live processes
renews it (`Heartbeat`), so a process killed by SIGKILL, the OOM killer or a lost node stops
renewing and the next run may take the lease over once it has expired, without a person.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.tables import JobLock

log = logging.getLogger("dealnode")
LOCK = "rescore"
DEFAULT_SECONDS = 60.0
"""How long a run holds the lease without renewing it: the wait after a crash."""


def holder() -> str:
    """This process, as the refusal names it to the person who must decide."""
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def take(session: Session, run_id: str, now: datetime, seconds: float) -> str | None:
    """Hold the lease for `run_id` (joining it if the run holds it already).

    Return the run whose expired lease was taken over (it died unfinished), else None.
    Conflict, naming the holder and `--resume`, while another run's lease is live.
    """
    until = now + timedelta(seconds=seconds)
    session.add(
        JobLock(name=LOCK, run_id=run_id, acquired_at=now, expires_at=until, holder=holder())
    )
    try:
        session.flush()
        return None
    except IntegrityError:
        session.rollback()
    held = session.get(JobLock, LOCK)
    if held is None:  # released between our insert and our read: try once more
        return take(session, run_id, now, seconds)
    if held.run_id == run_id:
        _extend(session, run_id, until, expired_before=None)
        return None
    if held.expires_at > now or not _extend(
        session, held.run_id, until, expired_before=now, to=run_id
    ):
        session.expire(held)
        current = session.get(JobLock, LOCK)
        if current is None:
            return take(session, run_id, now, seconds)
        raise Conflict(
            f"rescoring run {current.run_id} is in progress (lease renewed by {current.holder} "
            f"until {current.expires_at.isoformat(timespec='seconds')}); if it died, finish "
            f"it with `dealnode rescore --resume {current.run_id}`, or wait for the lease to "
            "expire and start a new run"
        )
    return held.run_id


def renew(sessions: Callable[[], Session], run_id: str, seconds: float) -> bool:
    """Push the lease's end out; False if the run no longer holds it."""
    with sessions() as session:
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        kept = _extend(session, run_id, until, expired_before=None)
        session.commit()
        return kept


def _extend(
    session: Session,
    run_id: str,
    until: datetime,
    *,
    expired_before: datetime | None,
    to: str | None = None,
) -> bool:
    """Move the lease's end to `until` (and to run `to`) if `run_id` holds it (and it expired)."""
    query = update(JobLock).where(JobLock.name == LOCK, JobLock.run_id == run_id)
    values: dict[str, Any] = {"expires_at": until, "holder": holder()}
    if expired_before is not None:
        query = query.where(JobLock.expires_at <= expired_before)
    if to is not None:
        values |= {"run_id": to, "acquired_at": datetime.now(UTC)}
    done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        query.values(values).execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


class Heartbeat:
    """Renew a run's lease from a thread, so no chunk, however slow, lets it lapse.

    A chunk is scored and written in this process's main thread; renewing there would tie
    the lease's length to the slowest chunk.
    """

    def __init__(self, sessions: Callable[[], Session], run_id: str, seconds: float) -> None:
        self._sessions = sessions
        self._run_id = run_id
        self._seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._seconds / 3):
            try:
                if not renew(self._sessions, self._run_id, self._seconds):
                    return  # taken over: the run's next chunk is refused (`runs.hold`)
            except Exception as exc:  # a database blip: the next beat tries again, in time
                log.warning("could not renew the lease of run %s: %s", self._run_id, exc)
