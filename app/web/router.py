"""The web app's pages for every signed-in user: sign-in, funnel, work queue, customer."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator

from app.customers import service as customer_service
from app.customers.service import QueueFilter, QueueOrder
from app.deps import AdvisorDep, SessionDep, SettingsDep, TrendCacheDep
from app.errors import NotFound, Unauthorized
from app.input_types import LookupId
from app.web import funnel as funnel_service
from app.web import sessions as web_sessions
from app.web.auth import COOKIE_PATH, SESSION_COOKIE, CheckedForm, Viewer
from app.web.charts import state_history_chart, trend_chart
from app.web.forms import read_form
from app.web.queue_export import queue_csv
from app.web.templating import page
from training.features import STATES, CustomerState

router = APIRouter(prefix="/app", include_in_schema=False)

SIGN_IN_COOKIE = "dealnode_sign_in"
"""The sign-in form's own CSRF token (double submit): no session exists yet to derive one."""
QUEUE_PAGE = 50
TREND_DAYS = (30, 90)
"""The funnel's trend windows, shortest first."""
EVENTS_SHOWN = 50


def _safe_next(target: str | None) -> str:
    """Back to a page of this app only, never to another site (`//host` or `/\\host`)."""
    if target and target.startswith("/app") and not target.startswith(("//", "/\\")):
        return target
    return "/app"


def _set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.get("/sign-in", name="sign_in_form")
def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The form that takes an API key (posted, never in the address)."""
    return _sign_in_page(request, next_page=_safe_next(next), problem=None, status_code=200)


def _sign_in_page(
    request: Request, *, next_page: str, problem: str | None, status_code: int
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    context = {"next_page": next_page, "problem": problem, "csrf_token": token}
    response = page(request, "sign_in.html", context, viewer=None, status_code=status_code)
    _set_cookie(request, response, SIGN_IN_COOKIE, token, 3600)
    return response


@router.post("/sign-in")
async def sign_in(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Exchange an API key for a session cookie."""
    form = await read_form(request)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    sent = form.get("csrf_token", "")
    next_page = _safe_next(form.get("next"))
    if not expected or not hmac.compare_digest(expected, sent):
        return page(
            request,
            "refused.html",
            {"message": "This sign-in form was not sent from this app's page; reload it."},
            viewer=None,
            status_code=403,
        )
    if not form.get("api_key", "").strip():
        return _sign_in_page(
            request, next_page=next_page, problem="Enter an API key.", status_code=422
        )
    lifetime = timedelta(hours=settings.web_session_hours)
    try:
        token = web_sessions.sign_in(
            session, api_key=form["api_key"], now=datetime.now(UTC), lifetime=lifetime
        )
    except Unauthorized:
        return _sign_in_page(
            request,
            next_page=next_page,
            problem="That API key is not valid, or it was revoked.",
            status_code=401,
        )
    session.commit()
    response = RedirectResponse(next_page, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, int(lifetime.total_seconds()))
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/sign-out", name="sign_out")
def sign_out(request: Request, session: SessionDep, viewer: Viewer, _: CheckedForm) -> Response:
    """End the session."""
    web_sessions.sign_out(session, token=viewer.token)
    session.commit()
    response = RedirectResponse(request.url_for("sign_in_form").path, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("", name="funnel")
def funnel(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    trends: TrendCacheDep,
    viewer: Viewer,
) -> HTMLResponse:
    """Customers per state now, the trend, the at-risk count and the last nightly run's moves.

    The charts draw the ends of days, which stay as they are all day, so they are drawn once
    a day (`charts.py` keeps them); the table adds the counts now."""
    found = funnel_service.read_funnel(session, at_risk_threshold=settings.at_risk_threshold)
    top = max(found.per_state.values(), default=0) or 1
    now = datetime.now(UTC)
    trend = funnel_service.read_trend(session, now=now, days=TREND_DAYS[-1], kept=trends)
    charts = {
        days: trend_chart(
            [(p.as_of, p.per_state) for p in trend.points if p.as_of >= now - timedelta(days=days)]
        )
        for days in TREND_DAYS
    }
    context = {
        "funnel": found,
        "top": top,
        "trend": [*trend.points, funnel_service.TrendPoint(as_of=now, per_state=found.per_state)],
        "history_begins": trend.history_begins,
        "charts": charts,
        "states": STATES,
    }
    return page(request, "funnel.html", context, viewer=viewer)


class QueueQuery(BaseModel):
    """The work queue page's filters; a blank field means any."""

    state: CustomerState | None = None
    action: str | None = Field(default=None, max_length=64)
    min_confidence: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    open_objection: bool | None = None
    silent_after_quote: bool | None = None
    at_risk: bool | None = None
    sort: QueueOrder | None = None
    cursor: str | None = Field(default=None, max_length=512)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_any(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def where(self, *, at_risk_threshold: float, quote_silence_days: int) -> QueueFilter:
        """The service's filter for these fields."""
        return QueueFilter(
            state=self.state,
            action=self.action,
            min_confidence=self.min_confidence,
            open_objection=self.open_objection,
            at_risk=self.at_risk,
            at_risk_threshold=at_risk_threshold,
            silent_after_quote=self.silent_after_quote,
            quote_silence_days=quote_silence_days,
        )

    def order(self) -> QueueOrder:
        """The order asked for, most confident first by default."""
        return self.sort or "most_confident"

    def link(self, **changed: str | None) -> str:
        """This query string with some fields changed (None drops one)."""
        fields = {k: v for k, v in self.model_dump(mode="json").items() if v is not None}
        fields.update(changed)
        kept = {k: str(v).lower() if isinstance(v, bool) else v for k, v in fields.items()}
        return urlencode(sorted((k, v) for k, v in kept.items() if v is not None))


QueueParams = Annotated[QueueQuery, Query()]


def queue_filter(query: QueueParams, settings: SettingsDep, advisor: AdvisorDep) -> QueueFilter:
    """The service's filter for the page's fields, with the app's threshold and playbook."""
    return query.where(
        at_risk_threshold=settings.at_risk_threshold,
        quote_silence_days=advisor.playbook.signals.quote_silence_days,
    )


QueueWhere = Annotated[QueueFilter, Depends(queue_filter)]


@router.get("/queue", name="queue")
def queue(
    request: Request,
    session: SessionDep,
    advisor: AdvisorDep,
    viewer: Viewer,
    query: QueueParams,
    where: QueueWhere,
) -> HTMLResponse:
    """Who to call: the filtered work queue, a page at a time."""
    found = customer_service.list_queue(
        session, where=where, limit=QUEUE_PAGE, cursor=query.cursor, order=query.order()
    )
    context = {
        "query": query,
        "items": found.items,
        "next_cursor": found.next_cursor,
        "states": STATES,
        "actions": sorted({rule.code for rule in advisor.playbook.rule}),
    }
    return page(request, "queue.html", context, viewer=viewer)


@router.get("/queue.csv", name="queue_csv")
def queue_export(
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
    query: QueueParams,
    where: QueueWhere,
) -> Response:
    """The filtered work queue as CSV, every page of it."""
    text = queue_csv(session, where=where, order=query.order(), page_size=settings.page_limit_max)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="work-queue.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/customers/{customer_id:path}", name="customer")
def customer(
    request: Request, customer_id: LookupId, session: SessionDep, viewer: Viewer
) -> HTMLResponse:
    """One customer: probabilities, reasons, next action, state history, events."""
    try:
        found = customer_service.read_customer(session, customer_id=customer_id)
    except NotFound as missing:
        refusal = {"message": missing.message}
        return page(request, "refused.html", refusal, viewer=viewer, status_code=404)
    events = customer_service.recent_events(session, customer_id=customer_id, limit=EVENTS_SHOWN)
    oldest_first = [(h.scored_at, h.state) for h in reversed(found.history)]
    chart = state_history_chart(oldest_first, datetime.now(UTC))
    context = {"customer": found, "score": found.latest_score, "events": events, "chart": chart}
    return page(request, "customer.html", context, viewer=viewer)
