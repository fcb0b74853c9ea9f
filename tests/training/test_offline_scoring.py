"""Offline scoring: output layout, batch independence and file round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.artifacts import load_model
from training.dataset import load_customers
from training.errors import DataError
from training.features import STATES
from training.offline_scoring import PROBABILITY_COLUMNS, score_file, score_table
from training.train import TrainResult


def test_score_table_rows_do_not_depend_on_their_batch(
    trained: TrainResult, snapshot_path: Path
) -> None:
    model = load_model(trained.path)
    table = load_customers(snapshot_path, require_labels=False)
    whole = score_table(model, table.subset(np.arange(200)))
    alone = pd.concat([score_table(model, table.subset(np.array([i]))) for i in (0, 57, 199)])
    expected = whole.iloc[[0, 57, 199]].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.reset_index(drop=True), expected)


def test_score_table_state_is_the_decision_rules(trained: TrainResult, snapshot_path: Path) -> None:
    model = load_model(trained.path)
    scores = score_table(model, load_customers(snapshot_path, require_labels=False))
    chosen = model.decision.decide(scores[list(PROBABILITY_COLUMNS)].to_numpy())
    assert (scores["state"] == np.asarray(STATES, dtype=object)[chosen]).all()
    assert scores["model_version"].eq(trained.version).all()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_file_writes_every_row(
    trained: TrainResult, snapshot_path: Path, tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"scores{suffix}"
    rows = score_file(load_model(trained.path), snapshot_path, out)
    written = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert rows == len(written) == len(pd.read_parquet(snapshot_path))
    assert not list(tmp_path.glob(".*partial"))


def test_score_file_rejects_unknown_output_type(
    trained: TrainResult, snapshot_path: Path, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match=r"scores\.xlsx"):
        score_file(load_model(trained.path), snapshot_path, tmp_path / "scores.xlsx")
