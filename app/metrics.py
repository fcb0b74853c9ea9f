"""Prometheus metrics, one registry per app so tests and workers never share counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    """The service's metrics."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.latency = Histogram(
            "dealnode_request_seconds",
            "HTTP request latency by route",
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
            "The serving model (value 1 on the serving version)",
            ["version"],
            registry=self.registry,
        )

    def set_model(self, version: str) -> None:
        """Mark `version` as the serving model."""
        self.model_info.clear()
        self.model_info.labels(version=version).set(1)
