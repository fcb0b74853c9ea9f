"""Prediction endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.deps import (
    AdvisorDep,
    BatcherDep,
    MetricsDep,
    ScoreKey,
    ServingDep,
    SessionDep,
    SessionmakerDep,
    SettingsDep,
)
from app.errors import InvalidInput
from app.responses import FastJSONResponse
from app.routing import JSONRoute
from app.scoring import service
from app.scoring.results import ScoreView
from app.scoring.schemas import BatchRead, BatchRequest, CustomerRequest, PredictRequest, ScoreRead

router = APIRouter(prefix="/v1/predict", tags=["scoring"], route_class=JSONRoute)


@router.post("", response_model=ScoreRead)
async def predict(
    body: PredictRequest,
    serving: ServingDep,
    batcher: BatcherDep,
    sessions: SessionmakerDep,
    _: ScoreKey,
) -> FastJSONResponse:
    """Score one customer: state, probabilities, reasons and next action (stored with an id)."""
    checked = service.check_request(serving, [body], as_of=body.as_of)
    # Requests arriving together are scored in one model call (see `batcher.py`).
    result = await batcher.predict(
        body,
        checked.inputs,
        predictor=checked.predictor,
        as_of=None if body.as_of is None else checked.as_of,
    )
    if body.customer_id is not None:
        await run_in_threadpool(_store, sessions, [body], [result])
    return FastJSONResponse(result)


@router.post("/batch", response_model=BatchRead)
def predict_batch(
    body: BatchRequest,
    session: SessionDep,
    serving: ServingDep,
    advisor: AdvisorDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    _: ScoreKey,
) -> FastJSONResponse:
    """Score up to the batch limit of customers in one model call (stored when they have ids)."""
    if len(body.customers) > settings.batch_limit:
        raise InvalidInput(
            f"customers: {len(body.customers)} items, the limit is {settings.batch_limit}",
            field="customers",
        )
    results = service.predict(serving, advisor, metrics, body.customers, as_of=body.as_of)
    if any(c.customer_id for c in body.customers):
        service.store_scores(session, body.customers, results)
        session.commit()
    return FastJSONResponse({"model_version": results[0]["model_version"], "results": results})


def _store(
    sessions: sessionmaker[Session], items: Sequence[CustomerRequest], results: list[ScoreView]
) -> None:
    with sessions() as session:
        service.store_scores(session, items, results)
        session.commit()
