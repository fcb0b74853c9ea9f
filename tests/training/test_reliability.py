"""The test set's calibration, measured at training and kept in metadata.json, so the model
page reads it instead of predicting the test set again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.artifacts import load_model, read_test_set
from training.errors import ModelError
from training.features import STATES
from training.fitting import label_codes
from training.metrics import MIN_BIN_CUSTOMERS, expected_calibration_error, reliability_bins
from training.prediction import Predictor, predict_table
from training.reliability import METADATA_KEY, reliability_of
from training.train import TrainResult


def test_a_trained_model_carries_what_its_test_set_gives(trained: TrainResult) -> None:
    model = load_model(trained.path)
    stored = model.reliability
    assert stored is not None
    table = read_test_set(model.path, model.metadata)
    assert table.labels is not None
    y_true = label_codes(table.labels)
    proba = predict_table(Predictor(model), table).probabilities
    computed = reliability_of(y_true, proba)
    shown = [b for b in reliability_bins(y_true, proba) if b["count"] >= MIN_BIN_CUSTOMERS]
    assert len(stored.bins) == len(computed.bins) == len(shown) >= 3
    for kept, now, by_hand in zip(stored.bins, computed.bins, shown, strict=True):
        assert kept == pytest.approx(now)
        assert kept == pytest.approx(by_hand)
    for state in STATES:
        assert vars(stored.per_state[state]) == pytest.approx(vars(computed.per_state[state]))
    assert stored.overconfidence == pytest.approx(computed.overconfidence)
    assert stored.customers == len(y_true)
    assert stored.left_out == len(y_true) - sum(b["count"] for b in shown)
    assert stored.ece == pytest.approx(expected_calibration_error(y_true, proba))
    assert stored.ece == pytest.approx(model.metadata["metrics"]["test"]["model"]["ece"])
    assert set(stored.per_state) == set(STATES)
    for i, state in enumerate(STATES):
        figures = stored.per_state[state]
        assert figures.support == int((y_true == i).sum())
        assert figures.observed_share == pytest.approx((y_true == i).mean())
        assert figures.mean_predicted == pytest.approx(proba[:, i].mean())
    assert sum(f.observed_share for f in stored.per_state.values()) == pytest.approx(1.0)


def test_a_model_from_before_the_block_loads_without_it(
    registry_dir: Path, trained: TrainResult
) -> None:
    path = registry_dir / trained.version / "metadata.json"
    metadata = json.loads(path.read_text())
    del metadata[METADATA_KEY]
    path.write_text(json.dumps(metadata))
    assert load_model(path.parent).reliability is None


def test_a_damaged_block_refuses_the_model_naming_it(
    registry_dir: Path, trained: TrainResult
) -> None:
    path = registry_dir / trained.version / "metadata.json"
    metadata = json.loads(path.read_text())
    del metadata[METADATA_KEY]["per_state"]["loyal"]
    path.write_text(json.dumps(metadata))
    with pytest.raises(ModelError, match=f"{METADATA_KEY}: bad or missing 'loyal'"):
        load_model(path.parent)
