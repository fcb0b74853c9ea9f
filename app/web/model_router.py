"""The web app's pages for trusting the model and the nightly job: the model with its test
figures, calibration, drift and live quality, and its versions (activation for admins, after a
confirmation); the runs with dead deliveries (retry)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.deps import (
    CalibrationCacheDep,
    FollowerDep,
    MonitoringCacheDep,
    ServingDep,
    SessionDep,
    SessionmakerDep,
)
from app.errors import AppError
from app.input_types import LookupId
from app.models_api import service as model_service
from app.monitoring import service as monitoring_service
from app.nightly import service as run_service
from app.notifications import service as outbox_service
from app.web import calibration
from app.web.auth import Admin, CheckedForm, Viewer
from app.web.charts import reliability_chart
from app.web.sessions import SignedIn
from app.web.templating import page
from training.features import STATES

router = APIRouter(prefix="/app", include_in_schema=False)

RUNS_SHOWN = 20
DEAD_SHOWN = 50


def _problem(request: Request, viewer: SignedIn, error: AppError) -> HTMLResponse:
    context = {"message": error.message}
    return page(request, "refused.html", context, viewer=viewer, status_code=error.status_code)


@router.get("/models", name="models")
def models(
    request: Request,
    serving: ServingDep,
    sessions: SessionmakerDep,
    reports: MonitoringCacheDep,
    calibrations: CalibrationCacheDep,
    viewer: Viewer,
) -> HTMLResponse:
    """The serving model's test metrics and calibration, its monitoring report (the one `GET
    /v1/models/current/monitoring` answers, from the same cache), and the registry's versions."""
    context: dict[str, Any] = {"current": None, "versions": model_service.list_models(serving)}
    if serving.loaded:
        predictor = serving.predictor  # once: an activation may swap it mid-request
        current = model_service.describe(predictor.model)
        calibrated = calibration.cached(calibrations, predictor)
        context |= {
            "current": current,
            "tested": current.metrics.get("model") or {},
            "baselines": current.metrics.get("baselines") or {},
            "calibration": calibrated,
            "reliability": reliability_chart(calibrated.figures.bins) if calibrated else None,
            "monitoring": monitoring_service.current_report(sessions, predictor.model, reports),
            "ttl_minutes": reports.ttl_seconds / 60,
            "states": STATES,
        }
    return page(request, "models.html", context, viewer=viewer)


@router.get("/models/{version}/activate", name="confirm_activation")
def confirm_activation(
    request: Request, version: LookupId, serving: ServingDep, viewer: Admin
) -> HTMLResponse:
    """Ask an admin to confirm serving `version` everywhere."""
    known = {m.version for m in model_service.list_models(serving)}
    if version not in known:
        return page(
            request,
            "refused.html",
            {"message": f"There is no model {version} in the registry."},
            viewer=viewer,
            status_code=404,
        )
    serving_now = serving.model.version if serving.loaded else None
    context = {"version": version, "serving_now": serving_now}
    return page(request, "activate.html", context, viewer=viewer)


@router.post("/models/{version}/activate")
def activate(
    request: Request,
    version: LookupId,
    serving: ServingDep,
    follower: FollowerDep,
    viewer: Admin,
    _: CheckedForm,
) -> Response:
    """Serve `version` from every server process, as `POST /v1/models/{version}/activate`."""
    try:
        model_service.activate(serving, follower, version, by=viewer.caller.name)
    except AppError as error:
        return _problem(request, viewer, error)
    return RedirectResponse(request.url_for("models").path, status_code=303)


@router.get("/runs", name="runs")
def runs(request: Request, session: SessionDep, viewer: Viewer) -> HTMLResponse:
    """The latest nightly runs; for admins, the dead deliveries too."""
    dead = (
        outbox_service.list_deliveries(session, status="dead", limit=DEAD_SHOWN)
        if viewer.is_admin
        else []
    )
    context = {"runs": run_service.latest_runs(session, RUNS_SHOWN), "dead": dead}
    return page(request, "runs.html", context, viewer=viewer)


@router.post("/deliveries/{notification_id}/retry", name="retry_delivery")
def retry_delivery(
    request: Request,
    notification_id: LookupId,
    session: SessionDep,
    viewer: Admin,
    _: CheckedForm,
) -> Response:
    """Give a notification's dead deliveries a fresh set of attempts, due now."""
    try:
        outbox_service.retry(session, notification_id=notification_id, now=datetime.now(UTC))
    except AppError as error:
        return _problem(request, viewer, error)
    session.commit()
    return RedirectResponse(request.url_for("runs").path, status_code=303)
