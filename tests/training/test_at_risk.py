"""The at-risk model: trained when the data has the label, stored and vetted like the state
model, optional on load, scored in the same `predict` call and explained by the same trees."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training import at_risk
from training.artifacts import AT_RISK_BOOSTER_FILE, load_model, sha256_file
from training.dataset import load_customers
from training.errors import DataError, ModelError
from training.explain import PathExplainer
from training.offline_scoring import AT_RISK_COLUMN, score_table
from training.prediction import Predictor, RawInputs, predict
from training.train import TrainConfig, TrainResult, train

ROWS = 600


def _inputs(snapshot_path: Path) -> tuple[RawInputs, datetime]:
    table = load_customers(snapshot_path, require_labels=False).subset(np.arange(ROWS))
    return RawInputs.of_table(table), table.as_of.to_pydatetime()


def _without_at_risk(registry_dir: Path, version: str) -> Path:
    """The model as one trained on data without the label would be."""
    path = registry_dir / version
    meta = json.loads((path / "metadata.json").read_text())
    del meta["at_risk"]
    (path / "metadata.json").write_text(json.dumps(meta))
    (path / AT_RISK_BOOSTER_FILE).unlink()
    return path


def test_training_records_the_at_risk_model(trained: TrainResult) -> None:
    meta = json.loads((trained.path / "metadata.json").read_text())
    part = meta["at_risk"]
    assert part["horizon_days"] == at_risk.HORIZON_DAYS == 30
    assert part["booster"]["sha256"] == sha256_file(trained.path / AT_RISK_BOOSTER_FILE)
    assert part["calibration"]["method"] == "platt"
    test = part["metrics"]["test"]
    assert 0.05 < test["base_rate"] < 0.4
    assert test["auc"] > 0.62
    assert test["ece"] < 0.03
    assert abs(test["mean_probability"] - test["base_rate"]) < 0.02
    assert test["brier"] < test["base_rate"] * (1 - test["base_rate"])  # beats the base rate
    report = (trained.path / "report.md").read_text()
    assert "## At risk" in report
    assert f"within {at_risk.HORIZON_DAYS} days" in report


def test_a_model_without_an_at_risk_part_loads_and_scores_none(
    registry_dir: Path, trained: TrainResult, snapshot_path: Path
) -> None:
    model = load_model(_without_at_risk(registry_dir, trained.version))
    assert model.at_risk is None
    assert model.checksums == (model.checksum,)
    inputs, when = _inputs(snapshot_path)
    assert predict(Predictor(model), inputs, when, explained=False).at_risk is None
    prediction = predict(Predictor(model), inputs, when)
    assert prediction.at_risk is None
    with pytest.raises(ValueError, match="no explained at-risk part"):
        _ = prediction.at_risk_contributions


def test_a_damaged_at_risk_booster_is_refused_like_the_main_one(
    registry_dir: Path, trained: TrainResult
) -> None:
    path = registry_dir / trained.version
    booster = path / AT_RISK_BOOSTER_FILE
    booster.write_text(booster.read_text()[:-200])
    with pytest.raises(ModelError, match=r"at_risk.txt is corrupt or truncated \(checksum\)"):
        load_model(path)
    booster.unlink()
    with pytest.raises(ModelError, match=r"at_risk\.txt is missing"):
        load_model(path)


def test_predict_gives_the_calibrated_at_risk_probability(
    trained: TrainResult, snapshot_path: Path
) -> None:
    model = load_model(trained.path)
    part = model.at_risk
    assert part is not None
    inputs, when = _inputs(snapshot_path)
    explained = predict(Predictor(model), inputs, when)
    summed = predict(Predictor(model), inputs, when, explained=False)
    assert explained.at_risk is not None
    assert summed.at_risk is not None
    raw = np.asarray(part.booster.predict(explained.matrix, raw_score=True), dtype=np.float64)
    expected = 1 / (1 + np.exp(-(part.scale * raw + part.bias)))
    np.testing.assert_allclose(explained.at_risk, expected, rtol=1e-9)
    np.testing.assert_allclose(summed.at_risk, expected, rtol=1e-9)
    assert ((expected > 0) & (expected < 1)).all()


def test_path_explainer_works_for_the_binary_booster(
    trained: TrainResult, snapshot_path: Path
) -> None:
    model = load_model(trained.path)
    assert model.at_risk is not None
    inputs, when = _inputs(snapshot_path)
    prediction = predict(Predictor(model), inputs, when)
    explainer = PathExplainer(model.at_risk.booster, 1)
    leaves = explainer.leaves(prediction.matrix)
    raw = explainer.raw_scores(leaves)[:, 0]
    np.testing.assert_allclose(
        raw, model.at_risk.booster.predict(prediction.matrix, raw_score=True), rtol=1e-12
    )
    contributions, base = explainer.contributions(leaves, np.zeros(ROWS, dtype=np.intp))
    np.testing.assert_allclose(contributions.sum(axis=1) + base, raw, atol=1e-9)
    np.testing.assert_allclose(prediction.at_risk_contributions, contributions)


def test_data_without_the_label_trains_no_at_risk_model(
    snapshot_path: Path, tmp_path: Path
) -> None:
    frame = pd.read_parquet(snapshot_path).head(3000).drop(columns=[at_risk.LABEL_COLUMN])
    data = tmp_path / "plain.parquet"
    frame.to_parquet(data, index=False)
    result = train(TrainConfig(data=data, models_dir=tmp_path / "models", seed=0))
    meta = json.loads((result.path / "metadata.json").read_text())
    assert "at_risk" not in meta
    assert not (result.path / AT_RISK_BOOSTER_FILE).exists()
    assert load_model(result.path).at_risk is None
    assert "## At risk" not in (result.path / "report.md").read_text()


def test_read_labels_aligns_by_id_and_refuses_other_values(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("customer_id,at_risk\nb,1\na,0\n")
    labels = at_risk.read_labels(good, pd.Index(["a", "b"]))
    assert labels is not None
    assert labels.tolist() == [0, 1]
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,at_risk\na,0\nb,yes\n")
    with pytest.raises(DataError, match=r"column 'at_risk', row 2: 'yes' is not 0 or 1"):
        at_risk.read_labels(bad, pd.Index(["a", "b"]))
    none = tmp_path / "none.csv"
    none.write_text("customer_id,state\na,loyal\n")
    assert at_risk.read_labels(none, pd.Index(["a"])) is None


def test_offline_scoring_writes_the_at_risk_probability_as_predict_gives_it(
    trained: TrainResult, snapshot_path: Path
) -> None:
    model = load_model(trained.path)
    table = load_customers(snapshot_path, require_labels=False).subset(np.arange(ROWS))
    scores = score_table(model, table)
    assert list(scores.columns[-2:]) == [AT_RISK_COLUMN, "model_version"]
    inputs, when = _inputs(snapshot_path)
    expected = predict(Predictor(model), inputs, when).at_risk
    assert expected is not None
    np.testing.assert_allclose(scores[AT_RISK_COLUMN].to_numpy(), expected, rtol=1e-12)
