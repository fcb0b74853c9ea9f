"""A segment family at scoring time: loading, routing, the same answers as each booster alone."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from training.artifacts import LoadedModel, load_model
from training.dataset import to_customer_table
from training.errors import ModelError
from training.explain import PathExplainer
from training.features import STATES
from training.fitting import calibrate
from training.mapping import NATIVE_MAPPING
from training.offline_scoring import SEGMENT_COLUMN, score_table
from training.prediction import Predictor, RawInputs, design, predict
from training.registry import compare_on_incumbent_test, list_models
from training.train import MODEL_NAME, TrainResult


@pytest.fixture(scope="module")
def family(segmented: TrainResult) -> LoadedModel:
    return load_model(segmented.path)


@pytest.fixture(scope="module")
def predictor(family: LoadedModel) -> Predictor:
    return Predictor(family).warmed()


@pytest.fixture(scope="module")
def customers(region_data: Path) -> tuple[RawInputs, datetime, list[str | None]]:
    """A few hundred of the region customers as raw inputs, with their regions."""
    frame = pd.read_parquet(region_data).iloc[:300]
    table = to_customer_table(frame, NATIVE_MAPPING, require_labels=False)
    regions = [None if pd.isna(v) else str(v) for v in table.extras["segment"]]
    return RawInputs.of_table(table), table.as_of.to_pydatetime(), regions


def _copy_with(source: Path, target: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the model directory `source` at `target`, its metadata changed by `change`."""
    shutil.copytree(source, target)
    meta = json.loads((target / "metadata.json").read_text())
    change(meta)
    (target / "metadata.json").write_text(json.dumps(meta))
    return target


def _without_segments(meta: dict[str, Any]) -> None:
    del meta["segments"]


def _alone(model: LoadedModel, booster_index: int | None, matrix: np.ndarray) -> np.ndarray:
    """Probabilities of one member scoring `matrix` by itself (None: the global model)."""
    if booster_index is None:
        booster, temperature = model.booster, model.temperature
    else:
        assert model.segments is not None
        part = model.segments.parts[booster_index]
        booster, temperature = part.booster, part.temperature
    return calibrate(np.asarray(booster.predict(matrix, raw_score=True)), temperature)


def test_the_family_loads_with_its_used_segment_verified(family: LoadedModel) -> None:
    assert family.segments is not None
    assert family.segments.column == "segment"
    assert family.segments.values == ("odd",)
    assert len(family.checksums) == 3  # state model, at-risk model, the odd region's model


@pytest.mark.parametrize("explained", [True, False])
def test_rows_are_scored_by_the_booster_their_region_routes_to(
    family: LoadedModel,
    predictor: Predictor,
    customers: tuple[RawInputs, datetime, list[str | None]],
    *,
    explained: bool,
) -> None:
    inputs, as_of, regions = customers
    prediction = predict(predictor, inputs, as_of, explained=explained)
    assert list(prediction.segment_names()) == [r if r == "odd" else None for r in regions]
    odd = np.array([r == "odd" for r in regions])
    assert odd.any()
    assert (~odd).any()
    matrix = design(inputs, as_of, family.layout)
    np.testing.assert_allclose(prediction.probabilities[odd], _alone(family, 0, matrix[odd]))
    np.testing.assert_allclose(prediction.probabilities[~odd], _alone(family, None, matrix[~odd]))
    np.testing.assert_array_equal(
        prediction.winners, family.decision.decide(prediction.probabilities)
    )


def test_contributions_come_from_the_booster_that_scored_the_row(
    family: LoadedModel,
    predictor: Predictor,
    customers: tuple[RawInputs, datetime, list[str | None]],
) -> None:
    inputs, as_of, regions = customers
    prediction = predict(predictor, inputs, as_of)
    odd = np.flatnonzero([r == "odd" for r in regions])
    assert family.segments is not None
    own = PathExplainer(family.segments.parts[0].booster, len(STATES))
    matrix = prediction.matrix[odd]
    expected, _ = own.contributions(own.leaves(matrix), prediction.winners[odd])
    np.testing.assert_allclose(prediction.contributions[odd], expected)
    glob = np.setdiff1d(np.arange(len(regions)), odd)
    found, _ = predictor.explainer.contributions(
        predictor.explainer.leaves(prediction.matrix[glob]), prediction.winners[glob]
    )
    np.testing.assert_allclose(prediction.contributions[glob], found)


@pytest.mark.parametrize("value", [None, "mars", "slice", float("nan")])
def test_missing_unseen_and_unused_values_go_to_the_global_model(
    family: LoadedModel,
    predictor: Predictor,
    customers: tuple[RawInputs, datetime, list[str | None]],
    value: object,
) -> None:
    inputs, as_of, regions = customers
    row = regions.index("odd")
    extras = dict(inputs.extra_rows()[row])
    extras["segment"] = value
    one = RawInputs(inputs.values[row : row + 1], [extras])
    prediction = predict(predictor, one, as_of)
    assert list(prediction.segment_names()) == [None]
    matrix = design(one, as_of, family.layout)
    np.testing.assert_allclose(prediction.probabilities, _alone(family, None, matrix))


def test_a_model_without_segments_scores_as_before(
    segmented: TrainResult,
    customers: tuple[RawInputs, datetime, list[str | None]],
    tmp_path: Path,
) -> None:
    plain = _copy_with(segmented.path, tmp_path / "plain", _without_segments)
    model = load_model(plain)
    assert model.segments is None
    inputs, as_of, _ = customers
    prediction = predict(Predictor(model), inputs, as_of)
    assert prediction.segments == ()
    assert prediction.members == ()
    assert prediction.explainer is not None
    assert list(prediction.segment_names()) == [None] * len(inputs)
    matrix = design(inputs, as_of, model.layout)
    np.testing.assert_allclose(prediction.probabilities, _alone(model, None, matrix))


def test_a_damaged_segment_booster_refuses_the_model(
    segmented: TrainResult, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(segmented.path, broken)
    with (broken / "segments" / "0.txt").open("a") as handle:
        handle.write("\n")
    with pytest.raises(ModelError, match=r"0\.txt is corrupt or truncated"):
        load_model(broken)


def test_a_segment_booster_outside_the_model_is_refused(
    segmented: TrainResult, tmp_path: Path
) -> None:

    def outside(meta: dict[str, Any]) -> None:
        meta["segments"]["models"][0]["booster"]["file"] = "../model.txt"

    odd = _copy_with(segmented.path, tmp_path / "odd", outside)
    with pytest.raises(ModelError, match="segments"):
        load_model(odd)


def test_the_at_risk_flag_is_the_global_at_risk_models_for_every_row(
    family: LoadedModel,
    predictor: Predictor,
    customers: tuple[RawInputs, datetime, list[str | None]],
) -> None:
    inputs, as_of, _ = customers
    prediction = predict(predictor, inputs, as_of)
    assert family.at_risk is not None
    assert prediction.at_risk is not None
    matrix = design(inputs, as_of, family.layout)
    raw = np.asarray(family.at_risk.booster.predict(matrix, raw_score=True))
    expected = 1 / (1 + np.exp(-(family.at_risk.scale * raw + family.at_risk.bias)))
    np.testing.assert_allclose(prediction.at_risk, expected)


def test_offline_scoring_names_the_member_that_scored_each_row(
    family: LoadedModel, region_data: Path
) -> None:
    frame = pd.read_parquet(region_data).iloc[:200]
    table = to_customer_table(frame, NATIVE_MAPPING, require_labels=False)
    scores = score_table(family, table)
    expected = [v if v == "odd" else None for v in frame["segment"]]
    found = [v if isinstance(v, str) else None for v in scores[SEGMENT_COLUMN]]
    assert found == expected


def test_a_family_whose_segment_models_all_lost_loads_as_one_model(
    segmented: TrainResult, tmp_path: Path
) -> None:
    registry = tmp_path / "models"

    def all_lost(meta: dict[str, Any]) -> None:
        meta["segments"]["models"] = []

    lost = _copy_with(segmented.path, registry / "lost", all_lost)
    assert load_model(lost).segments is None
    [entry] = list_models(registry)
    assert (entry.segment_by, entry.segments_used) == ("segment", ())


def test_the_promotion_check_scores_a_family_with_its_routing(
    segmented: TrainResult, tmp_path: Path
) -> None:
    """Against the same model without its segments, on the same test customers, the family
    scores what training recorded for it: the check routes rows as serving does."""
    plain = _copy_with(segmented.path, tmp_path / "plain", _without_segments)
    comparison = compare_on_incumbent_test(load_model(segmented.path), load_model(plain))
    recorded = segmented.metrics[MODEL_NAME]["macro_f1"]
    assert comparison.candidate_f1 == pytest.approx(recorded, abs=1e-12)
    assert comparison.incumbent_f1 != pytest.approx(recorded, abs=1e-6)
