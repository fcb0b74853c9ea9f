"""Concurrent single predictions share model calls and get exactly their own answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from app.config import DEFAULT_PLAYBOOK
from app.metrics import Metrics
from app.scoring.actions import load_playbook
from app.scoring.advice import Advisor
from app.scoring.batcher import PredictionBatcher
from app.scoring.results import ScoreView
from app.scoring.schemas import CustomerRequest
from app.scoring.service import raw_inputs, score_requests
from app.scoring.serving import ServingModel
from tests.factories import customer_body
from training.simulation import Simulation
from training.train import TrainResult

AS_OF = datetime(2026, 11, 24, 12, tzinfo=UTC)
LATER = datetime(2026, 11, 25, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Scoring:
    serving: ServingModel
    advisor: Advisor


@pytest.fixture
def scorer(trained: TrainResult) -> Scoring:
    serving = ServingModel(trained.path.parent)
    serving.activate(trained.version)
    return Scoring(serving, Advisor(load_playbook(DEFAULT_PLAYBOOK), low_confidence=0.45))


def _items(simulation: Simulation, n: int) -> list[CustomerRequest]:
    return [
        CustomerRequest.model_validate(customer_body(simulation.snapshot.iloc[i], f"b-{i}"))
        for i in range(n)
    ]


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the rows of every model call."""
    original = Advisor.score
    calls: list[int] = []

    def score(advisor: Advisor, predictor: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(inputs))
        return original(advisor, predictor, inputs, *args, **kwargs)

    monkeypatch.setattr(Advisor, "score", score)
    return calls


def test_concurrent_requests_share_a_model_call_and_keep_their_own_answers(
    scorer: Scoring, simulation: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _items(simulation, 40)
    predictor = scorer.serving.predictor
    alone = [
        score_requests(scorer.advisor, predictor, [item], raw_inputs([item]), as_of=AS_OF)[0]
        for item in items
    ]
    calls = _counting(monkeypatch)
    batcher = PredictionBatcher(scorer.advisor, Metrics())

    async def all_at_once() -> list[ScoreView]:
        predictor = scorer.serving.predictor
        requests = [
            batcher.predict(item, raw_inputs([item]), predictor=predictor, as_of=AS_OF)
            for item in items
        ]
        return await asyncio.gather(*requests)

    together = asyncio.run(all_at_once())
    assert calls == [40]  # one model call for all of them
    for mine, reference in zip(together, alone, strict=True):
        assert mine["customer_id"] == reference["customer_id"]
        assert mine["probabilities"] == pytest.approx(reference["probabilities"])
        assert (mine["state"], mine["next_action"]) == (
            reference["state"],
            reference["next_action"],
        )
        assert [r["feature"] for r in mine["reasons_for"]] == [
            r["feature"] for r in reference["reasons_for"]
        ]


def test_requests_with_other_times_are_scored_in_their_own_batches(
    scorer: Scoring, simulation: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _items(simulation, 6)
    calls = _counting(monkeypatch)
    batcher = PredictionBatcher(scorer.advisor, Metrics())

    async def mixed() -> list[ScoreView]:
        predictor = scorer.serving.predictor
        times = [AS_OF, LATER, AS_OF, None, LATER, AS_OF]
        return await asyncio.gather(
            *(
                batcher.predict(item, raw_inputs([item]), predictor=predictor, as_of=when)
                for item, when in zip(items, times, strict=True)
            )
        )

    reads = asyncio.run(mixed())
    assert sorted(calls) == [1, 2, 3]
    assert [r["as_of"] for r in reads[:3]] == [
        "2026-11-24T12:00:00Z",
        "2026-11-25T12:00:00Z",
        "2026-11-24T12:00:00Z",
    ]
    assert reads[3]["as_of"] > "2026-11-25"  # none given: now


def test_a_failing_model_call_fails_every_request_of_its_batch_and_not_the_next(
    scorer: Scoring, simulation: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _items(simulation, 3)
    original = Advisor.score
    failures = iter([True])

    def score(*args: Any, **kwargs: Any) -> Any:
        if next(failures, False):
            raise RuntimeError("the model fell over")
        return original(*args, **kwargs)

    monkeypatch.setattr(Advisor, "score", score)
    batcher = PredictionBatcher(scorer.advisor, Metrics())

    async def twice() -> tuple[list[Any], ScoreView]:
        predictor = scorer.serving.predictor
        first = await asyncio.gather(
            *(batcher.predict(i, raw_inputs([i]), predictor=predictor, as_of=AS_OF) for i in items),
            return_exceptions=True,
        )
        second = await batcher.predict(
            items[0], raw_inputs([items[0]]), predictor=predictor, as_of=AS_OF
        )
        return first, second

    first, second = asyncio.run(twice())
    assert all(isinstance(r, RuntimeError) for r in first)
    assert second["customer_id"] == "b-0"


def test_shutting_down_cancels_the_waiting_requests(
    scorer: Scoring, simulation: Simulation
) -> None:
    items = _items(simulation, 3)
    batcher = PredictionBatcher(scorer.advisor, Metrics())

    async def cancelled_drain() -> list[BaseException | ScoreView]:
        predictor = scorer.serving.predictor
        requests = [
            asyncio.ensure_future(
                batcher.predict(item, raw_inputs([item]), predictor=predictor, as_of=AS_OF)
            )
            for item in items
        ]
        await asyncio.sleep(0)  # all three wait; the drain has not run yet
        assert batcher._draining is not None
        batcher._draining.cancel()
        return await asyncio.gather(*requests, return_exceptions=True)

    outcomes = asyncio.run(asyncio.wait_for(cancelled_drain(), timeout=10))
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
