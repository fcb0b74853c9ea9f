"""Prediction endpoints."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import MetricsDep, ScoreKey, ScorerDep, SessionDep, SettingsDep
from app.errors import InvalidInput
from app.scoring import service
from app.scoring.schemas import BatchRead, BatchRequest, PredictRequest, ScoreRead

router = APIRouter(prefix="/v1/predict", tags=["scoring"])


@router.post("")
def predict(
    body: PredictRequest,
    session: SessionDep,
    scorer: ScorerDep,
    metrics: MetricsDep,
    _: ScoreKey,
) -> ScoreRead:
    """Score one customer: state, probabilities, reasons and next action (stored with an id)."""
    [result] = service.predict(session, scorer, metrics, [body], as_of=body.as_of)
    if body.customer_id is not None:
        session.commit()
    return result


@router.post("/batch")
def predict_batch(
    body: BatchRequest,
    session: SessionDep,
    scorer: ScorerDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    _: ScoreKey,
) -> BatchRead:
    """Score up to the batch limit of customers in one model call."""
    if len(body.customers) > settings.batch_limit:
        raise InvalidInput(
            f"customers: {len(body.customers)} items, the limit is {settings.batch_limit}",
            field="customers",
        )
    results = service.predict(session, scorer, metrics, body.customers, as_of=body.as_of)
    if any(c.customer_id for c in body.customers):
        session.commit()
    return BatchRead(model_version=results[0].model_version, results=results)
