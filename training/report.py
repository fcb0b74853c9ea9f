"""The model report: one Markdown page a sales-ops person can read, plus three plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.decision import DecisionRule
from training.features import STATES
from training.metrics import reliability_bins_shown

_COLUMNS = (
    ("macro-F1", "macro_f1", "{:.3f}"),
    ("accuracy", "accuracy", "{:.1%}"),
    ("within one state", "within_one_accuracy", "{:.1%}"),
    ("log loss", "log_loss", "{:.3f}"),
    ("ECE", "ece", "{:.3f}"),
)


def comparison_table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table: one row per model or baseline, the model first."""
    header = "| model | " + " | ".join(c[0] for c in _COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(_COLUMNS)
    rows = [
        f"| {name} | " + " | ".join(fmt.format(r[key]) for _, key, fmt in _COLUMNS) + " |"
        for name, r in results.items()
    ]
    return "\n".join([header, rule, *rows])


def write_report(
    out_dir: Path,
    *,
    model_name: str,
    results: dict[str, dict[str, Any]],
    y_true: npt.NDArray[np.int64],
    proba: npt.NDArray[np.float64],
    importance: pd.Series,
    info: dict[str, str],
    rule: DecisionRule,
    sections: Sequence[str] = (),
) -> Path:
    """Write report.md and its PNGs into `out_dir`; return the Markdown's path.

    `sections` are Markdown sections of optional steps (such as tuning), placed before the
    glossary so a report without them reads exactly as before.
    """
    model = results[model_name]
    _plot_confusion(out_dir / "confusion_matrix.png", np.asarray(model["confusion"]))
    _plot_reliability(out_dir / "reliability.png", y_true, proba)
    _plot_importance(out_dir / "feature_importance.png", importance)
    path = out_dir / "report.md"
    path.write_text(_markdown(model_name, results, y_true, proba, info, rule, sections))
    return path


def _markdown(
    model_name: str,
    results: dict[str, dict[str, Any]],
    y_true: npt.NDArray[np.int64],
    proba: npt.NDArray[np.float64],
    info: dict[str, str],
    rule: DecisionRule,
    sections: Sequence[str] = (),
) -> str:
    model = results[model_name]
    baselines = {k: v for k, v in results.items() if not k.startswith(model_name)}
    best = max(baselines.items(), key=lambda kv: kv[1]["macro_f1"]) if baselines else None
    lines = ["# DealNode model report", ""]
    summary = (
        f"On {model['n']:,} customers it never saw in training, the model puts a customer in the "
        f"right state **{model['accuracy']:.1%}** of the time, and within one state of the right "
        f"one **{model['within_one_accuracy']:.1%}** of the time."
    )
    if best is not None:
        gain = model["macro_f1"] - best[1]["macro_f1"]
        summary += (
            f" Its macro-F1 is {model['macro_f1']:.3f}, {gain:+.3f} against the best baseline "
            f"({best[0]}, {best[1]['macro_f1']:.3f})."
        )
    lines += [summary, "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += [
        "",
        "## Model and baselines on the same test customers",
        "",
        comparison_table(results),
    ]
    lines += [
        "",
        "## How the shown state is chosen",
        "",
        *decision_words(rule, results, model_name),
    ]
    lines += ["", "## Per state", ""]
    lines += [
        "Precision: when the model says a customer is in this state, how often it is right. "
        "Recall: of the customers really in this state, how many the model finds.",
        "",
        "| state | precision | recall | F1 | customers |",
        "|---|---:|---:|---:|---:|",
    ]
    for state, row in model["per_state"].items():
        lines.append(
            f"| {state} | {row['precision']:.1%} | {row['recall']:.1%} | {row['f1']:.3f} "
            f"| {row['support']:,} |"
        )
    lines += ["", "## Where it goes wrong", "", "Rows: the true state; columns: the model's.", ""]
    lines += ["| true \\ predicted | " + " | ".join(STATES) + " |", "|---|" + "---:|" * len(STATES)]
    for state, counts in zip(STATES, model["confusion"], strict=True):
        lines.append(f"| {state} | " + " | ".join(f"{c:,}" for c in counts) + " |")
    lines += ["", "![confusion matrix](confusion_matrix.png)", ""]
    lines += ["## Can you trust the percentages?", "", _calibration_words(y_true, proba, model), ""]
    lines += ["![reliability diagram](reliability.png)", ""]
    lines += ["## What the model looks at", "", "![feature importance](feature_importance.png)", ""]
    for section in sections:
        lines += [section, ""]
    lines += [
        "## What the numbers mean",
        "",
        "- **Accuracy**: share of customers put in the right state.",
        "- **Within one state**: share put in the right state or a neighbouring one "
        "(the states are ordered, so `intent` for a `deciding` customer is a near miss).",
        "- **Macro-F1**: the F1 score averaged over the five states with equal weight, so a "
        "model cannot score well by ignoring a rare state. 1 is perfect.",
        "- **Log loss**: how much probability the model gave the true state; lower is better.",
        "- **ECE** (expected calibration error): the average gap between how sure the model "
        "says it is and how often it is right; 0 is perfect.",
        "- **Majority class** always predicts the most common state; **rule of thumb** applies "
        "the rules of docs/domain.md; **logistic regression** is a simple linear model.",
        "",
    ]
    return "\n".join(lines)


def decision_words(
    rule: DecisionRule, results: dict[str, dict[str, Any]], model_name: str
) -> list[str]:
    """The decision rule in a sales manager's words, with what it changes on the test split."""
    if rule.kind == "most probable":
        return [
            "Each customer is shown in their most probable state: on the validation "
            "customers, no weighting of the states found them better."
        ]
    lines = [
        "The model gives each customer a probability for every state, and those stay as they "
        "are: 60% means right about six times in ten. The state shown is chosen from them so "
        "that no state goes unseen because it is rarer or harder to tell apart."
    ]
    if rule.kind == "fitted weights" and rule.weights is not None:
        weights = ", ".join(
            f"{state} x{w:.2f}" for state, w in zip(STATES, rule.weights, strict=True)
        )
        top, low = int(np.argmax(rule.weights)), int(np.argmin(rule.weights))
        example = (
            f"a customer with 35% {STATES[top]} and 45% {STATES[low]} is shown as "
            f"{STATES[top] if 0.35 * rule.weights[top] > 0.45 * rule.weights[low] else STATES[low]}"
        )
        lines += [
            "",
            f"Each state's probability is multiplied by a weight and the highest wins: {weights}. "
            "The weights were fitted on the validation customers to find every state about "
            "equally well (macro-F1), then `intent` and `deciding` were raised until at least "
            "half of those customers are found, as long as at least 35% of the customers shown "
            f"in them really are there. For example, {example}.",
        ]
    else:
        lines += [
            "",
            "The state shown is the one with the lowest expected cost under the cost file "
            "given at training (rows: the true state; columns: the state shown):",
            "",
            "| true \\ shown | " + " | ".join(STATES) + " |",
            "|---|" + "---:|" * len(STATES),
            *(
                f"| {state} | " + " | ".join(f"{c:g}" for c in row) + " |"
                for state, row in zip(STATES, rule.costs, strict=True)
            ),
        ]
    plain = results.get(f"{model_name}, most probable state")
    if plain is not None:
        chosen = results[model_name]
        lines += [
            "",
            "| state | found (recall), rule | found, most probable | right when shown "
            "(precision), rule | right when shown, most probable |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| {state} | {chosen['per_state'][state]['recall']:.0%} "
                f"| {plain['per_state'][state]['recall']:.0%} "
                f"| {chosen['per_state'][state]['precision']:.0%} "
                f"| {plain['per_state'][state]['precision']:.0%} |"
                for state in STATES
            ),
        ]
    return lines


def _calibration_words(
    y_true: npt.NDArray[np.int64], proba: npt.NDArray[np.float64], model: dict[str, Any]
) -> str:
    bins = reliability_bins_shown(y_true, proba, n_bins=10)
    if not bins:
        return "Too few customers to check calibration."
    parts = [
        f"when it says about {b['confidence']:.0%} it is right {b['accuracy']:.0%} of the time"
        for b in bins[-3:]
    ]
    words = "For the most confident predictions: " + "; ".join(parts) + "."
    chance = model.get("ece_by_chance")
    if chance:
        verdict = (
            "within what chance alone gives, so these customers cannot tell it from perfect"
            if model["ece"] <= chance["p95"]
            else "more than chance alone gives: the percentages are off, not just noisy"
        )
        words += (
            f" Its ECE is {model['ece']:.3f}. On {model['n']:,} customers even a perfectly "
            f"calibrated model would show about {chance['median']:.3f} by chance alone (up to "
            f"{chance['p95']:.3f} in 95 test sets of 100 this size): {verdict}."
        )
    return words


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_confusion(path: Path, confusion: npt.NDArray[np.int64]) -> None:
    plt = _pyplot()
    totals = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(STATES)):
        for j in range(len(STATES)):
            colour = "white" if shares[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{confusion[i, j]:,}\n{shares[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color=colour,
            )
    ax.set_xticks(range(len(STATES)), STATES, rotation=30)
    ax.set_yticks(range(len(STATES)), STATES)
    ax.set_xlabel("predicted state")
    ax.set_ylabel("true state")
    ax.set_title("Confusion matrix (row share)")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_reliability(
    path: Path, y_true: npt.NDArray[np.int64], proba: npt.NDArray[np.float64]
) -> None:
    plt = _pyplot()
    bins = reliability_bins_shown(y_true, proba)
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(
        [b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label="model"
    )
    for b in bins:
        ax.annotate(
            f"{int(b['count'])}",
            (b["confidence"], b["accuracy"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(4, -10),
        )
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("share correct")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Reliability diagram")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_importance(path: Path, importance: pd.Series) -> None:
    plt = _pyplot()
    top = importance.sort_values(ascending=False).head(20)[::-1]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(list(top.index), top.to_numpy())
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance (top 20)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
