"""Model directories and the registry: round-trip, refusals, and atomic promotion."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from training import artifacts, registry
from training.artifacts import load_model
from training.dataset import load_customers
from training.errors import DataError, ModelError
from training.prediction import Predictor, predict_table
from training.train import TrainResult


def test_load_model_round_trips_predictions(trained: TrainResult, snapshot_path: Path) -> None:
    table = load_customers(snapshot_path, require_labels=False)
    rows = table.subset(np.arange(500))
    first = predict_table(Predictor(load_model(trained.path)), rows).probabilities
    second = predict_table(Predictor(load_model(trained.path)), rows).probabilities
    assert first.shape == (500, 5)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_array_equal(first, second)


def test_metadata_records_what_the_issue_requires(trained: TrainResult) -> None:
    meta = json.loads((trained.path / "metadata.json").read_text())
    for key in ("version", "created_at", "feature_set", "labels", "data", "params", "metrics"):
        assert key in meta
    assert meta["feature_set"]["hash"]
    assert len(meta["data"]["fingerprint"]) == 64
    assert (
        set(meta["metrics"]["test"]["baselines"]) >= {"majority class"}
        or len(meta["metrics"]["test"]["baselines"]) == 3
    )
    assert {"lightgbm", "scikit-learn", "python"} <= set(meta["libraries"])
    assert (trained.path / "report.md").is_file()


def test_metadata_records_the_formulation_and_the_decision_rule(trained: TrainResult) -> None:
    meta = json.loads((trained.path / "metadata.json").read_text())
    formulation = meta["formulation"]
    scores = formulation["validation_ranked_probability_score"]
    assert formulation["chosen"] == min(scores, key=scores.__getitem__)
    model = load_model(trained.path)
    assert model.decision.to_json() == meta["decision"]
    test = meta["metrics"]["test"]
    # The rule and the plain most probable state are judged on the same customers and
    # probabilities: calibration is the same, the states shown may differ.
    assert test["model"]["log_loss"] == test["most_probable_state"]["log_loss"]
    assert "most probable state" in (trained.path / "report.md").read_text()


def test_a_model_from_before_decision_rules_shows_the_most_probable_state(
    registry_dir: Path, trained: TrainResult, snapshot_path: Path
) -> None:
    path = registry_dir / trained.version
    meta = json.loads((path / "metadata.json").read_text())
    del meta["decision"]
    (path / "metadata.json").write_text(json.dumps(meta))
    rows = load_customers(snapshot_path, require_labels=False).subset(np.arange(300))
    prediction = predict_table(Predictor(load_model(path)), rows)
    assert (prediction.winners == prediction.probabilities.argmax(axis=1)).all()


def test_train_promotes_the_first_model(trained: TrainResult) -> None:
    assert trained.promoted
    assert registry.promoted_version(trained.path.parent) == trained.version


def test_load_model_refuses_another_feature_set(registry_dir: Path, trained: TrainResult) -> None:
    path = registry_dir / trained.version
    meta = json.loads((path / "metadata.json").read_text())
    meta["feature_set"]["hash"] = "0000000000000000"
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"feature set .* hash 0000000000000000"):
        load_model(path)


def test_load_model_refuses_another_label_set(registry_dir: Path, trained: TrainResult) -> None:
    path = registry_dir / trained.version
    meta = json.loads((path / "metadata.json").read_text())
    meta["labels"] = ["cold", "warm", "hot", "deciding", "loyal"]
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="label set"):
        load_model(path)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_load_model_refuses_a_damaged_booster(
    registry_dir: Path, trained: TrainResult, damage: str
) -> None:
    booster = registry_dir / trained.version / artifacts.BOOSTER_FILE
    data = booster.read_bytes()
    booster.write_bytes(
        data[: len(data) // 2] if damage == "truncate" else data.replace(b"1", b"2", 1)
    )
    with pytest.raises(ModelError, match="corrupt or truncated"):
        load_model(booster.parent)


def test_resolve_without_promotion_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="dealnode train"):
        registry.resolve(tmp_path)


def test_resolve_rejects_a_path_as_version(registry_dir: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        registry.resolve(registry_dir, "../models")


def test_promote_refuses_a_worse_model_unless_forced(
    registry_dir: Path, trained: TrainResult
) -> None:
    worse = _copy_as(registry_dir, trained.version, "2000-01-01_worse")
    _make_uncalibrated_and_weaker(worse)
    with pytest.raises(DataError, match="scores worse than promoted"):
        registry.promote(registry_dir, worse.name)
    assert registry.promoted_version(registry_dir) == trained.version
    registry.promote(registry_dir, worse.name, force=True)
    assert registry.promoted_version(registry_dir) == worse.name


def test_promote_accepts_an_equal_model(registry_dir: Path, trained: TrainResult) -> None:
    twin = _copy_as(registry_dir, trained.version, "2000-01-01_twin")
    comparison = registry.promote(registry_dir, twin.name)
    assert comparison is not None
    assert comparison.candidate_f1 == pytest.approx(comparison.incumbent_f1)
    assert registry.promoted_version(registry_dir) == twin.name


def test_promote_crash_before_rename_keeps_old_pointer(
    registry_dir: Path, trained: TrainResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    twin = _copy_as(registry_dir, trained.version, "2000-01-01_twin")

    def crash(*_: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        registry.promote(registry_dir, twin.name)
    assert registry.promoted_version(registry_dir) == trained.version
    assert [e.version for e in registry.list_models(registry_dir)] == sorted(
        [trained.version, twin.name]
    )


def test_list_models_flags_a_broken_model(registry_dir: Path) -> None:
    (registry_dir / "2001-01-01_broken").mkdir()
    (registry_dir / ".staging-leftover").mkdir()
    entries = {e.version: e for e in registry.list_models(registry_dir)}
    assert ".staging-leftover" not in entries
    assert entries["2001-01-01_broken"].problem is not None
    assert "missing" in (entries["2001-01-01_broken"].problem or "")


def _copy_as(models_dir: Path, version: str, new: str) -> Path:
    target = models_dir / new
    shutil.copytree(models_dir / version, target)
    meta = json.loads((target / "metadata.json").read_text())
    meta["version"] = new
    (target / "metadata.json").write_text(json.dumps(meta))
    return target


def _make_uncalibrated_and_weaker(path: Path) -> None:
    """Keep only the first boosting round: a valid model that is plainly worse."""
    text = (path / artifacts.BOOSTER_FILE).read_text()
    import lightgbm as lgb

    booster = lgb.Booster(model_str=text)
    (path / artifacts.BOOSTER_FILE).write_text(booster.model_to_string(num_iteration=1))
    meta = json.loads((path / "metadata.json").read_text())
    meta["booster"]["sha256"] = artifacts.sha256_file(path / artifacts.BOOSTER_FILE)
    (path / "metadata.json").write_text(json.dumps(meta))
