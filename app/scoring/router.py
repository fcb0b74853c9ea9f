"""Prediction endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from app.deps import RuntimeDep, ScoreKey, SessionDep, SettingsDep
from app.errors import InvalidInput
from app.responses import FastJSONResponse
from app.routing import JSONRoute
from app.runtime import Runtime
from app.scoring import service
from app.scoring.checks import check_inputs
from app.scoring.results import ScoreView
from app.scoring.schemas import BatchRead, BatchRequest, CustomerRequest, PredictRequest, ScoreRead

router = APIRouter(prefix="/v1/predict", tags=["scoring"], route_class=JSONRoute)


@router.post("", response_model=ScoreRead)
async def predict(body: PredictRequest, runtime: RuntimeDep, _: ScoreKey) -> FastJSONResponse:
    """Score one customer: state, probabilities, reasons and next action (stored with an id)."""
    predictor = runtime.serving.predictor  # one model for the whole request (503 when none)
    when = service.resolve_as_of(body.as_of, datetime.now(UTC))
    inputs = service.raw_inputs([body])
    check_inputs([body], inputs.values, predictor.model, when)
    # Requests arriving together are scored in one model call (see `batcher.py`).
    result = await runtime.batcher.predict(
        body, inputs, predictor=predictor, as_of=None if body.as_of is None else when
    )
    if body.customer_id is not None:
        await run_in_threadpool(_store, runtime, [body], [result])
    return FastJSONResponse(result)


@router.post("/batch", response_model=BatchRead)
def predict_batch(
    body: BatchRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    _: ScoreKey,
) -> FastJSONResponse:
    """Score up to the batch limit of customers in one model call (stored when they have ids)."""
    if len(body.customers) > settings.batch_limit:
        raise InvalidInput(
            f"customers: {len(body.customers)} items, the limit is {settings.batch_limit}",
            field="customers",
        )
    results = service.predict(
        runtime.serving, runtime.advisor, runtime.metrics, body.customers, as_of=body.as_of
    )
    if any(c.customer_id for c in body.customers):
        service.store_scores(session, body.customers, results)
        session.commit()
    return FastJSONResponse({"model_version": results[0]["model_version"], "results": results})


def _store(runtime: Runtime, items: Sequence[CustomerRequest], results: list[ScoreView]) -> None:
    with runtime.sessions() as session:
        service.store_scores(session, items, results)
        session.commit()
