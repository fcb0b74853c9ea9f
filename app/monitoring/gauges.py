"""The monitoring report as Prometheus gauges, read at scrape time.

Gauges set only when someone asked for a report would show, to every later scrape, whatever
was computed last: nothing until a first request, the previous model's figures after an
activation, a 7-day live window if that is what someone last asked for, and after a restart
with several workers, the figures of a worker long since gone. So the scrape asks for the
served model's report itself (30-day live window, the endpoint's default), through the same
cache the endpoint and the model page use: a scrape costs a report at most once per
`DEALNODE_MONITORING_TTL_SECONDS`, and `dealnode_monitoring_report_timestamp_seconds` says
how old the figures are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from app.monitoring.schemas import MonitoringRead

_STATE_FIGURES = (
    (
        "dealnode_live_state_mean_probability",
        "Mean probability given to a state over the labelled customers (one-vs-rest)",
        "mean_predicted",
    ),
    (
        "dealnode_live_state_true_share",
        "Share of the labelled customers truly in a state",
        "observed_share",
    ),
    (
        "dealnode_live_state_calibration_error",
        "One-vs-rest calibration error of a state over the labelled customers",
        "calibration_error",
    ),
)


class MonitoringCollector(Collector):
    """The served model's monitoring report, as gauges; none while no model is served or the
    database does not answer (the scrape goes on without them)."""

    def __init__(self, report: Callable[[], MonitoringRead | None]) -> None:
        self.report = report

    def describe(self) -> Iterable[Metric]:
        return list(_families(None))

    def collect(self) -> Iterable[Metric]:
        try:
            report = self.report()
        except SQLAlchemyError:
            return []
        return list(_families(report))


def _families(report: MonitoringRead | None) -> Iterator[Metric]:
    def gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, text, labels=labels)

    computed = gauge(
        "dealnode_monitoring_report_timestamp_seconds",
        "When the monitoring report these gauges show was computed (Unix time)",
    )
    psi = gauge(
        "dealnode_feature_psi",
        "PSI of a model input against training over the window",
        ("feature", "window_days"),
    )
    mix = gauge(
        "dealnode_predicted_state_share",
        "Share of a predicted state among customers scored in the window",
        ("state", "window_days"),
    )
    labelled = gauge(
        "dealnode_live_labelled", "Labelled customers with a prediction before their true state"
    )
    recall = gauge("dealnode_live_recall", "Live recall of a state", ("state",))
    precision = gauge("dealnode_live_precision", "Live precision of a state", ("state",))
    ece = gauge("dealnode_live_ece", "Live expected calibration error")
    per_state = [(gauge(n, text, ("state",)), field) for n, text, field in _STATE_FIGURES]
    tested = gauge(
        "dealnode_test_state_calibration_error",
        "One-vs-rest calibration error of a state on the model's test customers",
        ("state",),
    )
    if report is not None:
        computed.add_metric([], report.computed_at.timestamp())
        for days, window in report.windows.items():
            for feature in window.features:
                if feature.psi is not None:  # no customer of the window had a value
                    psi.add_metric([feature.name, days], feature.psi)
            if window.state_mix_psi is not None:  # the served model scored someone
                for state, share in window.state_mix.items():
                    mix.add_metric([state, days], share)
        live = report.live_quality
        labelled.add_metric([], live.labelled)
        for state, figures in live.per_state.items():
            if figures.recall is not None:
                recall.add_metric([state], figures.recall)
            if figures.precision is not None:
                precision.add_metric([state], figures.precision)
        if live.ece is not None:
            ece.add_metric([], live.ece)
        for state, calibration in live.calibration.items():
            for family, field in per_state:
                value = getattr(calibration, field)
                if value is not None:  # too few customers to judge
                    family.add_metric([state], value)
        for state, test in live.compared_with_test.calibration_test.items():
            tested.add_metric([state], test.calibration_error)
    yield from (computed, psi, mix, labelled, recall, precision, ece)
    yield from (family for family, _ in per_state)
    yield tested
