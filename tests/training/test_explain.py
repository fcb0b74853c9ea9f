"""Path attribution: LightGBM's own raw scores, exact local accuracy, agreement with TreeSHAP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from training.artifacts import LoadedModel, load_model
from training.dataset import load_customers
from training.explain import PathExplainer
from training.prediction import RawInputs, design
from training.train import TrainResult

ROWS = 600


def _matrix(
    trained: TrainResult, snapshot_path: Path
) -> tuple[LoadedModel, npt.NDArray[np.float64]]:
    model = load_model(trained.path)
    table = load_customers(snapshot_path, require_labels=False).subset(np.arange(ROWS))
    return model, design(RawInputs.of_table(table), table.as_of.to_pydatetime(), model.layout)


def test_raw_scores_from_leaves_equal_lightgbm_predict(
    trained: TrainResult, snapshot_path: Path
) -> None:
    model, matrix = _matrix(trained, snapshot_path)
    explainer = PathExplainer(model.booster, 5)
    ours = explainer.raw_scores(explainer.leaves(matrix))
    np.testing.assert_allclose(ours, model.booster.predict(matrix, raw_score=True), rtol=1e-12)


def test_contributions_add_up_to_the_raw_score(trained: TrainResult, snapshot_path: Path) -> None:
    model, matrix = _matrix(trained, snapshot_path)
    explainer = PathExplainer(model.booster, 5)
    leaves = explainer.leaves(matrix)
    raw = explainer.raw_scores(leaves)
    winners = raw.argmax(axis=1)
    contributions, base = explainer.contributions(leaves, winners)
    np.testing.assert_allclose(
        contributions.sum(axis=1) + base, raw[np.arange(ROWS), winners], atol=1e-9
    )


def test_contributions_agree_with_treeshap_on_the_strongest_signals(
    trained: TrainResult, snapshot_path: Path
) -> None:
    model, matrix = _matrix(trained, snapshot_path)
    explainer = PathExplainer(model.booster, 5)
    leaves = explainer.leaves(matrix)
    winners = explainer.raw_scores(leaves).argmax(axis=1)
    ours, _ = explainer.contributions(leaves, winners)
    width = matrix.shape[1] + 1
    shap = np.asarray(model.booster.predict(matrix, pred_contrib=True)).reshape(ROWS, 5, width)
    exact = shap[np.arange(ROWS), winners, :-1]
    assert (ours.argmax(axis=1) == exact.argmax(axis=1)).mean() > 0.7
    correlation = np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(ours, exact, strict=True)])
    assert correlation > 0.8
