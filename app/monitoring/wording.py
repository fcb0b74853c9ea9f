"""A monitoring report in plain words, for `dealnode monitor`: what moved, how the model does
on real outcomes, and, on the last line, whether to retrain."""

from __future__ import annotations

from app.monitoring.schemas import FeatureDrift, LiveQuality, MonitoringRead, WindowRead
from training.features import STATES

MISSING_GAP = 0.25
"""An input unknown for this many more customers (as a share) than in training is named: the
model scores them without it, which retraining on the same kind of export would not change."""


def describe(report: MonitoringRead) -> list[str]:
    """The report as lines of text, the verdict last."""
    lines = [f"Model {report.model_version}, as of {report.computed_at.isoformat()[:19]} UTC."]
    if report.drift_note:
        lines.append(f"Drift: unavailable. {_sentence(report.drift_note)}")
    for window in report.windows.values():
        lines += ["", *_window(window)]
    lines += ["", *_live(report.live_quality), ""]
    verdict = "yes" if report.retrain.advised else "not yet"
    lines.append(f"Retrain: {verdict} — {'; '.join(report.retrain.because) or 'nothing to go on'}")
    return lines


def _window(window: WindowRead) -> list[str]:
    read = f"{window.customers:,} customers scored"
    if window.sampled:
        read = f"the {window.customers:,} most recently scored customers (a sample)"
    lines = [f"Last {window.days} days: {read}."]
    if not window.customers:
        return lines
    if not window.enough:
        lines.append("  Too few customers to judge drift; the figures below are noisy.")
    drifted = [f for f in window.features if f.level == "drift"]
    watched = [f for f in window.features if f.level == "watch"]
    if drifted:
        lines.append("  Drifted inputs: " + _named(drifted) + ".")
    if watched:
        lines.append("  Worth watching: " + _named(watched) + ".")
    if not drifted and not watched:
        top = window.features[0]
        if top.psi is not None:
            lines.append(f"  No input moved (largest PSI: {top.name}, {top.psi:.3f}).")
    unknown = [f for f in window.features if f.missing_live - f.missing_training >= MISSING_GAP]
    if unknown:
        lines.append(
            "  Unknown far more often than in training (check what the CRM sends): "
            + ", ".join(
                f"{f.name} ({f.missing_live:.0%}, training {f.missing_training:.0%})"
                for f in unknown[:8]
            )
            + "."
        )
    if window.state_mix_psi is None:
        lines.append("  Predicted states: none by this model yet.")
    else:
        mix = ", ".join(
            f"{s} {window.state_mix[s]:.0%} (training {window.training_state_mix[s]:.0%})"
            for s in STATES
        )
        lines.append(
            f"  Predicted states: {mix}; PSI {window.state_mix_psi:.3f}, {window.state_mix_level}."
        )
    return lines


def _live(live: LiveQuality) -> list[str]:
    head = f"Live quality over {live.window_days} days: {live.labelled:,} labelled customers"
    if live.unscored:
        head += f" ({live.unscored:,} more had no prediction before their true state)"
    lines = [head + "."]
    if not live.labelled:
        return [*lines, "  No true states yet: send CRM stage changes or `dealnode import labels`."]
    for state in STATES:
        figures = live.per_state[state]
        if not figures.support and figures.precision is None:
            continue
        lines.append(
            f"  {state}: precision {_share(figures.precision)}, recall {_share(figures.recall)}"
            f" ({figures.support:,} truly {state})"
        )
    test = live.compared_with_test
    if live.macro_recall is not None:
        against = "" if test.macro_recall_test is None else f" (test {test.macro_recall_test:.2f})"
        lines.append(f"  Macro recall {live.macro_recall:.2f}{against}.")
    if live.ece is not None:
        against = "" if test.ece_test is None else f" (test {test.ece_test:.3f})"
        lines.append(f"  Calibration error {live.ece:.3f}{against}.")
    if not live.enough:
        lines.append(f"  Too few to conclude: {live.minimum} labelled customers are needed.")
    return lines


def _named(features: list[FeatureDrift]) -> str:
    shown = [f"{f.name} (PSI {f.psi:.2f})" for f in features[:8]]
    more = len(features) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
