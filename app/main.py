"""The FastAPI application: `create_app()` wires settings, database, model and routers."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import heap
from app.config import Settings, get_settings
from app.customers.router import router as customers_router
from app.docs_ui import add_docs_page
from app.errors import install_error_handlers
from app.keys.service import KeyCache
from app.metrics import Metrics
from app.middleware import BodyLimit, Timing
from app.models_api.router import router as models_router
from app.monitoring.cache import TtlCache
from app.monitoring.router import router as monitoring_router
from app.monitoring.schemas import MonitoringRead
from app.monitoring.service import current_report
from app.nightly.router import router as runs_router
from app.notifications.router import router as outbox_router
from app.openapi import install_openapi
from app.ops import router as ops_router
from app.runtime import Runtime
from app.scoring.batcher import PredictionBatcher
from app.scoring.router import router as scoring_router
from app.services import build_services
from app.web.funnel import TREND_KEPT_SECONDS
from app.web.mount import add_web_app
from app.webhooks.docs import document_outbound
from app.webhooks.hubspot import load_hubspot_mapping
from app.webhooks.intake import Intake
from app.webhooks.router import router as webhooks_router
from app.webhooks.signature import check_secrets


def build_runtime(settings: Settings, metrics: Metrics) -> Runtime:
    """Build the web app's runtime: every process's services (`build_services`) plus what only
    serving HTTP needs; a bad webhook secret or HubSpot mapping stops start-up too."""
    check_secrets(settings.webhook_secrets)
    hubspot = load_hubspot_mapping(settings.hubspot_mapping)
    services = build_services(settings, metrics)
    return Runtime(
        **vars(services),
        keys=KeyCache(settings.key_cache_seconds),
        hubspot=hubspot,
        batcher=PredictionBatcher(services.advisor, metrics),
        intake=Intake(
            services.sessions,
            services.serving,
            services.advisor,
            at_once=1 if services.engine.dialect.name == "sqlite" else 2,
        ),
        monitoring=TtlCache(settings.monitoring_ttl_seconds, time.monotonic),
        # A model's test set never changes: its figures never go stale.
        calibration=TtlCache(math.inf, time.monotonic),
        trends=TtlCache(TREND_KEPT_SECONDS, time.monotonic),
    )


def _served_report(runtime: Runtime) -> MonitoringRead | None:
    """The monitoring report a scrape shows: the served model's, from the shared cache."""
    serving = runtime.serving
    if not serving.loaded:
        return None
    return current_report(runtime.sessions, serving.model, runtime.monitoring)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Create the app; the runtime is built in the lifespan, never at import."""
    chosen = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Runtime]]:
        runtime = build_runtime(chosen, metrics)
        app.state.runtime = runtime  # for code outside a request
        metrics.watch_database(runtime.sessions)
        metrics.watch_monitoring(lambda: _served_report(runtime))
        runtime.follower.start()
        heap.settle()
        try:
            # The lifespan state: each request's scope carries it, where `app.deps` reads it.
            yield {"runtime": runtime}
        finally:
            runtime.follower.stop()
            metrics.close()
            runtime.engine.dispose()

    app = FastAPI(
        title="DealNode",
        version="1",
        summary="Customer states, the signals behind them, and the next sales action.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    routers = (ops_router, scoring_router, customers_router, models_router, webhooks_router)
    for router in (*routers, outbox_router, runs_router, monitoring_router):
        app.include_router(router)
    add_docs_page(app)
    add_web_app(app)
    document_outbound(app)
    install_openapi(app)
    # Timing is outermost so the body limit's 413s are timed and logged like any answer.
    app.add_middleware(BodyLimit, max_bytes=chosen.max_body_bytes)
    app.add_middleware(Timing, metrics=metrics)
    return app
