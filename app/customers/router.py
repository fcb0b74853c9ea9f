"""Customer endpoints: one customer, and a rep's work queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.customers import service
from app.customers.schemas import CustomerPage, CustomerRead
from app.deps import AdvisorDep, ScoreKey, SessionDep, SettingsDep
from app.input_types import LookupId, Text
from training.features import CustomerState

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get("/{customer_id:path}")
def get_customer(customer_id: LookupId, session: SessionDep, _: ScoreKey) -> CustomerRead:
    """Return a customer's stored inputs, latest score with reasons and action, and history.

    The id may hold "/" (an id stored before "/" was refused), raw or as %2F.
    """
    return service.read_customer(session, customer_id=customer_id)


@router.get("")
def list_customers(
    session: SessionDep,
    settings: SettingsDep,
    advisor: AdvisorDep,
    _: ScoreKey,
    state: CustomerState | None = None,
    action: Annotated[Text | None, Query(max_length=64)] = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1, allow_inf_nan=False)] = None,
    open_objection: bool | None = None,
    at_risk: bool | None = None,
    silent_after_quote: bool | None = None,
    sort: service.QueueOrder = "most_confident",
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> CustomerPage:
    """List a work queue, most confident first, e.g. `?state=deciding&open_objection=true`;
    `at_risk=true` keeps the customers flagged at risk (docs/at_risk.md);
    `silent_after_quote=true` those quoted in the last 90 days and silent since for the
    playbook's `quote_silence_days`; `sort=least_confident` turns the order round."""
    where = service.QueueFilter(
        state=state,
        action=action,
        min_confidence=min_confidence,
        open_objection=open_objection,
        at_risk=at_risk,
        at_risk_threshold=settings.at_risk_threshold,
        silent_after_quote=silent_after_quote,
        quote_silence_days=advisor.playbook.signals.quote_silence_days,
    )
    return service.list_queue(
        session,
        where=where,
        limit=min(limit, settings.page_limit_max),
        cursor=cursor,
        order=sort,
    )
