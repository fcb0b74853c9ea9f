"""The model report: every file written, and the numbers a reader needs are in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.features import FEATURES
from training.metrics import evaluate
from training.report import comparison_table, write_report


def test_write_report_writes_markdown_and_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 400)
    proba = rng.dirichlet(np.ones(5), 400)
    proba[np.arange(400), y] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    results = {"model": evaluate(y, proba), "majority class": evaluate(y, np.full((400, 5), 0.2))}
    importance = pd.Series(np.arange(len(FEATURES), dtype=float), index=list(FEATURES))
    path = write_report(
        tmp_path,
        model_name="model",
        results=results,
        y_true=y,
        proba=proba,
        importance=importance,
        info={"Model version": "v1"},
    )
    text = path.read_text()
    assert "| model |" in text
    assert "| majority class |" in text
    assert f"{results['model']['accuracy']:.1%}" in text
    assert "v1" in text
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
