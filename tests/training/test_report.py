"""The model report: every file written, and the numbers a reader needs are in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.decision import MOST_PROBABLE, fit_weights, parse_costs
from training.features import FEATURES, STATES
from training.metrics import evaluate
from training.report import comparison_table, decision_words, write_report


def test_write_report_writes_markdown_and_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 400)
    proba = rng.dirichlet(np.ones(5), 400)
    proba[np.arange(400), y] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    results = {"model": evaluate(y, proba), "majority class": evaluate(y, np.full((400, 5), 0.2))}
    results["model"]["ece_by_chance"] = {"median": 0.041, "p95": 0.052}
    importance = pd.Series(np.arange(len(FEATURES), dtype=float), index=list(FEATURES))
    path = write_report(
        tmp_path,
        model_name="model",
        results=results,
        y_true=y,
        proba=proba,
        importance=importance,
        info={"Model version": "v1"},
        rule=MOST_PROBABLE,
    )
    text = path.read_text()
    assert "| model |" in text
    assert "| majority class |" in text
    assert f"{results['model']['accuracy']:.1%}" in text
    assert "v1" in text
    assert "about 0.041 by chance alone (up to 0.052" in text
    for name in ("confusion_matrix.png", "reliability.png", "feature_importance.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 5_000
        assert name in text


def test_comparison_table_has_a_row_per_model() -> None:
    y = np.array([0, 1, 2, 3, 4])
    good = np.eye(5)
    table = comparison_table({"a": evaluate(y, good), "b": evaluate(y, np.full((5, 5), 0.2))})
    lines = table.splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("| a | 1.000 |")


def _results_with_rule() -> tuple[dict[str, dict[str, object]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 2_000)
    proba = rng.dirichlet(np.ones(5), 2_000)
    proba[np.arange(2_000), y] += 0.4
    proba[:, 3] *= 0.5  # deciding under-predicted: a rule has something to fix
    proba /= proba.sum(axis=1, keepdims=True)
    return {"m": {}, "m, most probable state": evaluate(y, proba)}, y, proba


def test_decision_words_explain_fitted_weights_and_compare_with_most_probable() -> None:
    results, y, proba = _results_with_rule()
    rule = fit_weights(proba, y)
    results["m"] = evaluate(y, proba, rule.decide(proba))
    assert rule.weights is not None
    text = "\n".join(decision_words(rule, results, "m"))
    assert f"deciding x{rule.weights[3]:.2f}" in text
    assert "half of those customers" in text
    deciding = next(line for line in text.splitlines() if line.startswith("| deciding |"))
    found_rule, found_plain = (
        results[name]["per_state"]["deciding"]["recall"]  # type: ignore[index]
        for name in ("m", "m, most probable state")
    )
    assert deciding.startswith(f"| deciding | {found_rule:.0%} | {found_plain:.0%} |")


def test_decision_words_show_a_cost_matrix() -> None:
    results, y, proba = _results_with_rule()
    rule = parse_costs({"deciding": {"potential": 7}})
    results["m"] = evaluate(y, proba, rule.decide(proba))
    text = "\n".join(decision_words(rule, results, "m"))
    assert "cost file" in text
    assert "| deciding | 7 | 1 | 1 | 0 | 1 |" in text
    assert STATES[0] in text


def test_decision_words_for_the_most_probable_state() -> None:
    results, _, _ = _results_with_rule()
    assert "most probable state" in decision_words(MOST_PROBABLE, results, "m")[0]
