"""Apply deliveries that arrive together in one transaction (group commit).

A delivery's transaction costs a fixed dozen round trips and a commit whatever its size, and
a single-event delivery is almost nothing but that fixed cost. CRMs send many deliveries at
once, so here a delivery that arrives while a transaction is running waits for the next one,
which takes every delivery waiting: alone, a delivery is applied at once; under load the
fixed costs are shared. Each sender still gets its 2xx only after the commit that stored
its events, and a duplicate stays a duplicate whether its twin came in the same group or
long before.

A group whose transaction fails is not the senders' fault until shown: each delivery of it
is then applied alone, so one bad delivery fails only itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from app.scoring.advice import Advisor
from app.scoring.serving import ServingModel
from app.webhooks import service
from app.webhooks.schemas import CrmEvent, DeliveryRead

log = logging.getLogger("dealnode")
MAX_GROUP_EVENTS = 1000
"""A group's events, at most (a larger delivery goes alone): one transaction stays short."""


@dataclass(frozen=True)
class _Waiting:
    source: str
    events: Sequence[CrmEvent]
    ignored: int
    future: asyncio.Future[DeliveryRead]


class Intake:
    """Gathers one process's concurrent deliveries into shared transactions."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        serving: ServingModel,
        advisor: Advisor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        at_once: int = 1,
    ) -> None:
        self.sessions = sessions
        self.serving = serving
        self.advisor = advisor
        self.clock = clock
        """The time live features are computed as of (tests replay history at a fixed time)."""
        self.at_once = at_once
        """Groups in flight. Two on PostgreSQL: while one waits for the server, the next is
        scored. One on SQLite, whose writers take turns anyway and only lose time waiting."""
        self.transactions = 0
        """Transactions committed so far: fewer than deliveries when groups formed."""
        self._waiting: list[_Waiting] = []
        self._draining: set[asyncio.Task[None]] = set()

    async def apply(
        self, source: str, events: Sequence[CrmEvent], *, ignored: int = 0
    ) -> DeliveryRead:
        """Store, apply and rescore a validated delivery; return once it is committed."""
        service.check_times(events, now=self.clock())
        future: asyncio.Future[DeliveryRead] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(source, events, ignored, future))
        if len(self._draining) < self.at_once:
            self._start_draining()
        return await future

    def _start_draining(self) -> None:
        task = asyncio.create_task(self._drain())
        self._draining.add(task)
        task.add_done_callback(self._drained)

    def _drained(self, task: asyncio.Task[None]) -> None:
        """After a drain: go on if deliveries came meanwhile; cancelled, leave none hanging."""
        self._draining.discard(task)
        if task.cancelled():  # shutting down
            if not self._draining:  # and no other drain will serve the waiting ones
                for waiting in self._waiting:
                    waiting.future.cancel()
                self._waiting = []
            return
        if task.exception() is not None:  # its group heard of it; the others go on
            log.error("a webhook group failed outside its transaction", exc_info=task.exception())
        if self._waiting and len(self._draining) < self.at_once:
            self._start_draining()

    async def _drain(self) -> None:
        while True:
            await asyncio.sleep(0)  # deliveries already read from their sockets join
            if not self._waiting:
                return
            group = self._take()
            try:
                outcomes = await to_thread.run_sync(self._commit, group)
            except BaseException as exc:  # shutting down, or worse: no 2xx, so its senders
                # retry (the transaction may have committed; they then hear of duplicates)
                for waiting in group:
                    if waiting.future.done():
                        continue
                    if isinstance(exc, Exception):
                        waiting.future.set_exception(exc)
                    else:
                        waiting.future.cancel()
                raise
            for waiting, outcome in zip(group, outcomes, strict=True):
                if waiting.future.done():  # its sender went away; its events are stored
                    continue
                if isinstance(outcome, BaseException):
                    waiting.future.set_exception(outcome)
                else:
                    waiting.future.set_result(outcome)

    def _take(self) -> list[_Waiting]:
        """The waiting deliveries, in arrival order, up to `MAX_GROUP_EVENTS` events."""
        group: list[_Waiting] = []
        total = 0
        for waiting in self._waiting:
            if group and total + len(waiting.events) > MAX_GROUP_EVENTS:
                break
            group.append(waiting)
            total += len(waiting.events)
        self._waiting = self._waiting[len(group) :]
        return group

    def _commit(self, group: list[_Waiting]) -> list[DeliveryRead | Exception]:
        """Apply the group in one transaction; if that fails, each delivery alone."""
        try:
            return list(self._transaction(group))
        except Exception as exc:
            if len(group) == 1:
                return [exc]
        outcomes: list[DeliveryRead | Exception] = []
        for waiting in group:
            try:
                outcomes.extend(self._transaction([waiting]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _transaction(self, group: list[_Waiting]) -> list[DeliveryRead]:
        now = self.clock()
        with self.sessions() as session:
            tagged = [(w.source, e) for w in group for e in w.events]
            inserted = service.insert_new(session, tagged, now=now)
            news = [service.take_inserted(inserted, w.source, w.events) for w in group]
            touched = {e.customer_id for new in news for e in new}
            changed = service.refresh_customers(
                session, self.serving, self.advisor, sorted(touched), as_of=now
            )
            session.commit()  # the senders' 2xx go out only after this
        self.transactions += 1
        reads = []
        for waiting, new in zip(group, news, strict=True):
            customers = {e.customer_id for e in new}
            credited = customers & changed
            changed -= credited  # a change counts once, for the first delivery that caused it
            reads.append(
                DeliveryRead(
                    accepted=len(new),
                    duplicates=len(waiting.events) - len(new),
                    ignored=waiting.ignored,
                    customers=len(customers),
                    state_changes=len(credited),
                )
            )
        return reads
