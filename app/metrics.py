"""Prometheus metrics, one registry per app so tests and workers never share counters.

With several workers (`dealnode serve --workers N`) each worker writes its counts to
`PROMETHEUS_MULTIPROC_DIR`, which `serve` sets before the workers start, and a scrape adds up
every worker's files, whichever worker answers it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.monitoring.gauges import MonitoringCollector
from app.monitoring.schemas import MonitoringRead
from app.tables import NotificationDelivery, ScoringRun

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass
class Metrics:
    """The service's metrics."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    multiproc_dir: str | None = field(default_factory=lambda: os.environ.get(MULTIPROC_ENV))
    """Set when the values live in shared files (several workers); read at start, like
    prometheus_client itself does."""

    def __post_init__(self) -> None:
        self.latency = Histogram(
            "dealnode_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.predictions = Counter(
            "dealnode_predictions_total",
            "Predictions made, by predicted state",
            ["state"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "dealnode_model_info",
            "The serving model (value 1 on the serving version, per worker)",
            ["version"],
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self.webhook_deliveries = Counter(
            "dealnode_webhook_deliveries_total",
            "Inbound webhook deliveries: accepted (some new events), duplicate (none new), "
            "rejected",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.webhook_rejections = Counter(
            "dealnode_webhook_rejections_total",
            "Inbound webhook deliveries refused, by reason (signature, invalid_input, ...)",
            ["source", "reason"],
            registry=self.registry,
        )
        self.webhook_events = Counter(
            "dealnode_webhook_events_total",
            "Events in accepted deliveries: accepted, duplicate or ignored (no mapping rule)",
            ["source", "outcome"],
            registry=self.registry,
        )
        # Facts of this process and of the database, read at scrape time, never stored.
        self.live = CollectorRegistry()
        ProcessCollector(registry=self.live)
        PlatformCollector(registry=self.live)
        GCCollector(registry=self.live)
        if self.multiproc_dir is None:
            self.registry.register(self.live)
        self._serving: str | None = None

    def set_model(self, version: str) -> None:
        """Mark `version` as the serving model."""
        if self._serving is not None and self._serving != version:
            # Set to 0 rather than removed: a worker's files keep every series it wrote.
            self.model_info.labels(version=self._serving).set(0)
        self.model_info.labels(version=version).set(1)
        self._serving = version

    def watch_database(self, sessions: Callable[[], Session]) -> None:
        """Report the outbox and the nightly run, read from the database at each scrape."""
        self.live.register(DatabaseCollector(sessions))

    def watch_monitoring(self, report: Callable[[], MonitoringRead | None]) -> None:
        """Report the served model's monitoring report (`report`, cached) at each scrape."""
        self.live.register(MonitoringCollector(report))

    def exposition(self) -> bytes:
        """The text a scrape gets: every worker's counts when there are several."""
        if self.multiproc_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiproc_dir)  # type: ignore[no-untyped-call]
        registry.register(self.live)
        return generate_latest(registry)

    def close(self) -> None:
        """Drop this worker's live gauges from the shared files as it stops."""
        if self.multiproc_dir is not None:
            multiprocess.mark_process_dead(os.getpid(), self.multiproc_dir)  # type: ignore[no-untyped-call]


class DatabaseCollector(Collector):
    """The outbox backlog, dead deliveries and the last good nightly run, at scrape time.

    One query each, whichever worker is scraped; a database that does not answer leaves these
    metrics out of that scrape rather than failing it.
    """

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self.sessions = sessions

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        try:
            with self.sessions() as session:
                return list(self._families(session))
        except SQLAlchemyError:
            return []

    def _families(self, session: Session | None = None) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            "dealnode_outbox_pending_deliveries",
            "Notification deliveries not yet sent (neither delivered nor dead)",
        )
        dead = GaugeMetricFamily(
            "dealnode_outbox_dead_deliveries",
            "Notification deliveries that ran out of attempts (see /v1/notifications)",
        )
        last_run = GaugeMetricFamily(
            "dealnode_rescore_last_success_timestamp_seconds",
            "When the last successful nightly rescoring run finished (Unix time)",
        )
        last_duration = GaugeMetricFamily(
            "dealnode_rescore_last_success_duration_seconds",
            "How long the last successful nightly rescoring run took",
        )
        if session is not None:
            undelivered = NotificationDelivery.delivered_at.is_(None)
            pending.add_metric(
                [], _count(session, undelivered, NotificationDelivery.dead_at.is_(None))
            )
            dead.add_metric([], _count(session, NotificationDelivery.dead_at.is_not(None)))
            run = session.execute(
                select(ScoringRun.started_at, ScoringRun.finished_at)
                .where(ScoringRun.status == "succeeded", ScoringRun.finished_at.is_not(None))
                .order_by(ScoringRun.finished_at.desc())
                .limit(1)
            ).first()
            if run is not None:
                last_run.add_metric([], run.finished_at.timestamp())
                last_duration.add_metric([], (run.finished_at - run.started_at).total_seconds())
        yield from (pending, dead, last_run, last_duration)


def _count(session: Session, *where: object) -> int:
    query = select(func.count()).select_from(NotificationDelivery).where(*where)  # type: ignore[arg-type]
    return int(session.scalar(query) or 0)
