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
    lines += _percentages(live)
    if not live.enough:
        lines.append(f"  Too few to conclude: {live.minimum} labelled customers are needed.")
    return lines


def _percentages(live: LiveQuality) -> list[str]:
    """Each state's percentages against how often customers truly were in it, then which
    states' percentages no longer match reality, in a sales manager's words."""
    lines = [
        "  Percentages against reality (the average chance shown for a state, and the share",
        "  of labelled customers truly in it):",
    ]
    drifted, judged = [], False
    for state in STATES:
        figures = live.calibration[state]
        shown, truly = figures.mean_predicted, figures.observed_share
        if shown is None or truly is None:
            lines.append(
                f"    {state}: too few customers to tell ({figures.support:,} truly {state}, "
                f"{figures.expected:.0f} by its percentages; {live.calibration_minimum} needed)."
            )
            continue
        judged = True
        test = live.compared_with_test.calibration_test.get(state)
        line = (
            f"    {state}: shown {shown:.0%} on average, truly {truly:.0%}; off by "
            f"{_points(figures.calibration_error)} on average ({_points(figures.chance_error)} "
            "expected by chance on this many customers"
        )
        if test is not None:
            line += f"; {_points(test.calibration_error)} on the test customers"
        lines.append(line + ").")
        if not figures.drifted:
            continue
        against = f"{shown:.0%} against {truly:.0%}"
        if test is not None:
            against += (
                f"; on its test customers {test.mean_predicted:.0%} against "
                f"{test.observed_share:.0%}"
            )
        if abs(shown - truly) >= live.calibration_gap:
            lean = "high" if shown > truly else "low"
            drifted.append(f"{state}: its percentages are too {lean} ({against})")
        else:
            drifted.append(f"{state}: right on average ({against}) but off customer by customer")
    if drifted:
        lines.append(
            "  Percentages that no longer match reality: "
            + "; ".join(drifted)
            + ". Read those states' percentages as a ranking, not as chances."
        )
    elif judged and live.enough:
        lines.append("  No state's percentages have drifted from reality.")
    return lines


def _points(error: float | None) -> str:
    """A calibration error as the percentage points it averages."""
    return "n/a" if error is None else f"{100 * error:.1f} points"


def _named(features: list[FeatureDrift]) -> str:
    shown = [f"{f.name} (PSI {f.psi:.2f})" for f in features[:8]]
    more = len(features) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
