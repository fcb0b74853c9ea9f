"""The direct leaf call gives exactly the leaves `Booster.predict` gives, for both boosters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.artifacts import load_model
from training.dataset import load_customers
from training.explain import GATHER_ROWS, PathExplainer
from training.leaf_call import direct_leaf_call
from training.prediction import RawInputs, design
from training.train import TrainResult


def test_direct_leaves_equal_lightgbm_predict_for_both_boosters(
    trained: TrainResult, snapshot_path: Path
) -> None:
    model = load_model(trained.path)
    assert model.at_risk is not None
    table = load_customers(snapshot_path, require_labels=False).subset(np.arange(40))
    matrix = design(RawInputs.of_table(table), table.as_of.to_pydatetime(), model.layout)
    matrix[3] = np.nan  # an unknown customer takes every default branch
    for booster in (model.booster, model.at_risk.booster):
        call = direct_leaf_call(booster, booster.num_trees(), 1)
        assert call is not None  # the LightGBM this project pins has the C names
        expected = booster.predict(matrix, pred_leaf=True, num_threads=1)
        for rows in (matrix[:1], matrix[:7], matrix):
            np.testing.assert_array_equal(call(rows), expected[: len(rows)])
        explainer = PathExplainer(booster, 1 if booster is not model.booster else 5)
        assert len(matrix) < GATHER_ROWS  # so the explainer takes the direct call
        np.testing.assert_array_equal(explainer.leaves(matrix), expected)
