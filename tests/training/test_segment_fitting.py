"""Segment models at training: which segments get a model, which are used, and what is recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from training.artifacts import load_model, read_test_set
from training.errors import DataError
from training.fitting import FittedModel, label_codes
from training.prediction import Predictor, predict_table
from training.segment_fitting import (
    MAX_SEGMENTS,
    MIN_VALIDATION_CUSTOMERS,
    check_column,
    fit_segments,
    plan,
    report_section,
)
from training.table import CustomerTable
from training.train import MODEL_NAME, TrainConfig, TrainResult, train


def _candidates(result: TrainResult) -> dict[str, dict[str, Any]]:
    meta = json.loads((result.path / "metadata.json").read_text())
    return {c["value"]: c for c in meta["segments"]["candidates"]}


def test_the_different_region_gets_its_own_model_and_the_random_slice_does_not(
    segmented: TrainResult,
) -> None:
    candidates = _candidates(segmented)
    odd, slice_ = candidates["odd"], candidates["slice"]
    assert odd["trained"]
    assert odd["used"]
    rps = odd["validation_ranked_probability_score"]
    assert rps["global"] - rps["segment"] > rps["margin"] > 0
    assert slice_["trained"]
    assert not slice_["used"]
    rps = slice_["validation_ranked_probability_score"]
    assert rps["global"] - rps["segment"] <= rps["margin"]
    assert "does not beat the global model" in slice_["reason"]
    meta = json.loads((segmented.path / "metadata.json").read_text())
    assert [m["value"] for m in meta["segments"]["models"]] == ["odd"]
    assert meta["segments"]["column"] == "segment"


def test_a_region_lacking_a_state_is_skipped_with_its_reason(segmented: TrainResult) -> None:
    noloyal = _candidates(segmented)["noloyal"]
    assert not noloyal["trained"]
    assert not noloyal["used"]
    assert "too few training customers in" in noloyal["reason"]
    assert "loyal (0)" in noloyal["reason"]


def test_the_report_says_which_segment_models_are_used(segmented: TrainResult) -> None:
    report = (segmented.path / "report.md").read_text()
    section = report[report.index("## Segment models") :]
    assert "`segment`" in section
    assert "| odd |" in section
    assert "| noloyal |" in section
    assert "loyal (0)" in section
    # Before the glossary, like the other optional sections.
    assert report.index("## Segment models") < report.index("## What the numbers mean")


def test_test_metrics_are_the_familys_as_served(segmented: TrainResult) -> None:
    """The recorded test macro-F1 is what the family, routing applied, gives on the test split."""
    model = load_model(segmented.path)
    table = read_test_set(model.path, model.metadata)
    assert table.labels is not None
    y = label_codes(table.labels)
    shown = predict_table(Predictor(model), table).winners
    served = f1_score(y, shown, labels=np.unique(y), average="macro")
    assert served == pytest.approx(segmented.metrics[MODEL_NAME]["macro_f1"], abs=1e-12)


def test_only_the_ten_largest_values_are_candidates() -> None:
    sizes = {f"v{n:02d}": 100 + n for n in range(12)}  # v11 largest, v00 smallest
    train_values = np.array(
        [v for v, size in sizes.items() for _ in range(size)] + [None] * 5, dtype=object
    )
    empty = np.array([], dtype=object)
    fit = plan("team", (train_values, empty, empty))
    assert [c.value for c in fit.candidates] == [f"v{n:02d}" for n in range(11, 1, -1)]
    assert len(fit.candidates) == MAX_SEGMENTS
    assert (fit.other_values, fit.other_customers) == (2, 100 + 101)
    assert "2 other values (201 training customers)" in report_section(fit)


def test_a_segment_with_too_few_validation_customers_is_not_trained() -> None:
    """Enough training customers in every state, but too few to judge its model on."""
    y_train = np.repeat(np.arange(5), 40).astype(np.int64)
    train_values = np.array(["north"] * 200, dtype=object)
    few = MIN_VALIDATION_CUSTOMERS - 1
    val_values = np.array(["north"] * few + [None] * 50, dtype=object)
    fit = plan("region", (train_values, val_values, np.array([], dtype=object)))
    fit_segments(
        fit,
        (pd.DataFrame(index=range(200)), pd.DataFrame(index=range(few + 50))),
        (y_train, np.zeros(few + 50, dtype=np.int64)),
        global_model=cast(FittedModel, None),  # never read: nothing is fitted
        formulation="multiclass",
        params={},
        categorical=[],
        seed=0,
    )
    [north] = fit.candidates
    assert north.model is None
    assert f"only {few} validation customers" in north.reason


def _table(extra_categorical: tuple[str, ...]) -> CustomerTable:
    return CustomerTable(
        raw=pd.DataFrame(),
        extras=pd.DataFrame(),
        labels=None,
        as_of=pd.Timestamp("2026-11-01", tz="UTC"),
        extra_categorical=extra_categorical,
    )


def test_a_column_that_is_not_a_categorical_input_is_refused_by_name() -> None:
    with pytest.raises(DataError, match=r"--segment-by 'industry'.*'segment'"):
        check_column(_table(("segment",)), "industry")
    check_column(_table(("segment",)), "segment")


def test_training_with_a_bad_column_leaves_the_registry_empty(
    region_data: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    with pytest.raises(DataError, match="'visits'"):
        train(TrainConfig(data=region_data, models_dir=models, segment_by="visits"))
    assert not models.exists() or not any(models.iterdir())
