"""Score single predictions that arrive together in one model call (dynamic batching).

A single prediction costs a few hundred microseconds of CPU, most of it fixed per call:
LightGBM's call, numpy's per-array overhead, the playbook's rules. Under concurrent load a
worker would spend its time on those fixed costs, once per request. Here a request that
arrives while a batch is being scored waits for the next batch, which takes every request
waiting: alone, a request is scored at once; under load the fixed costs are shared.

Scoring runs on the event loop: a thread-pool hop would cost a lone request more than its
share of the model. Before scoring, the batch gives the loop a turn, in which requests
already read from their sockets reach it. A batch holds requests scored with the
same model and the same `as_of` (none given: the batch's own "now"), so each customer is
scored exactly as it would be alone; a test holds the batcher to that.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from app.metrics import Metrics
from app.scoring.advice import Advisor
from app.scoring.results import ScoreView
from app.scoring.schemas import CustomerRequest
from app.scoring.service import count_states, score_requests
from training.prediction import Predictor, RawInputs

MAX_BATCH = 256
"""More would make the first request of a batch wait for the model on all the others."""
GATHER_TURNS = 1
"""Event-loop turns a batch waits for requests that are already on their way."""


@dataclass(frozen=True)
class _Waiting:
    item: CustomerRequest
    inputs: RawInputs
    predictor: Predictor
    as_of: datetime | None
    future: asyncio.Future[ScoreView]


class PredictionBatcher:
    """Gathers concurrent single predictions of one process into batches."""

    def __init__(self, advisor: Advisor, metrics: Metrics) -> None:
        self.advisor = advisor
        self.metrics = metrics
        self._waiting: list[_Waiting] = []
        self._draining: asyncio.Task[None] | None = None

    async def predict(
        self,
        item: CustomerRequest,
        inputs: RawInputs,
        *,
        predictor: Predictor,
        as_of: datetime | None,
    ) -> ScoreView:
        """Score one checked request (`inputs`: its `raw_inputs`, which the checks read).

        `as_of` None means now.
        """
        future: asyncio.Future[ScoreView] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, inputs, predictor, as_of, future))
        if self._draining is None:
            self._start_draining()
        return await future

    def _start_draining(self) -> None:
        self._draining = asyncio.create_task(self._drain())
        self._draining.add_done_callback(self._drained)

    def _drained(self, task: asyncio.Task[None]) -> None:
        """After a drain: go on if requests came meanwhile; cancelled, leave none hanging."""
        self._draining = None
        if task.cancelled():
            for waiting in self._waiting:
                waiting.future.cancel()
            self._waiting = []
        elif self._waiting:
            self._start_draining()

    async def _drain(self) -> None:
        while self._waiting:
            # A turn of the event loop: requests already read from their sockets reach
            # `predict` (every step on the way is non-blocking) and join.
            for _ in range(GATHER_TURNS):
                await asyncio.sleep(0)
            batch = self._take()
            try:
                views = self._score(batch)
            except Exception as exc:  # every request of the batch hears of it
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)
                continue
            for waiting, view in zip(batch, views, strict=True):
                if not waiting.future.done():  # done: its client went away
                    waiting.future.set_result(view)

    def _take(self) -> list[_Waiting]:
        """The first waiting request and those that can share its batch, in arrival order."""
        first = self._waiting[0]
        batch: list[_Waiting] = []
        rest: list[_Waiting] = []
        for waiting in self._waiting:
            same = waiting.predictor is first.predictor and waiting.as_of == first.as_of
            (batch if same and len(batch) < MAX_BATCH else rest).append(waiting)
        self._waiting = rest
        return batch

    def _score(self, batch: list[_Waiting]) -> list[ScoreView]:
        first = batch[0]
        when = first.as_of or datetime.now(UTC)
        inputs = RawInputs.joined([w.inputs for w in batch])
        items = [w.item for w in batch]
        views = score_requests(self.advisor, first.predictor, items, inputs, as_of=when)
        count_states(self.metrics, views)
        return views
