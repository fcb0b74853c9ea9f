"""Model quality gates on the simulator's held-out customers: the model must earn its place."""

from __future__ import annotations

import pytest

from training.train import MODEL_NAME, MOST_PROBABLE_NAME, TrainResult

pytestmark = pytest.mark.model


def test_model_beats_every_baseline_on_macro_f1_and_log_loss(trained: TrainResult) -> None:
    # Like for like: the baselines show their most probable state. The decision rule trades
    # a little macro-F1 for finding half the buying customers (the test below).
    model = trained.metrics[MOST_PROBABLE_NAME]
    baselines = {
        k: v for k, v in trained.metrics.items() if k not in (MODEL_NAME, MOST_PROBABLE_NAME)
    }
    assert len(baselines) == 3
    for name, result in baselines.items():
        assert model["macro_f1"] > result["macro_f1"], name
        assert model["log_loss"] < result["log_loss"], name


def test_model_recall_floor_per_state(trained: TrainResult) -> None:
    per_state = trained.metrics[MOST_PROBABLE_NAME]["per_state"]
    for state, row in per_state.items():
        assert row["recall"] >= 0.3, state
    # The rule shows many `interested` customers as `intent` to find half of the buying ones
    # (about a fifth of them stay shown as interested on this data), but abandons no state.
    for state, row in trained.metrics[MODEL_NAME]["per_state"].items():
        assert row["recall"] >= 0.15, state


def test_model_probabilities_are_calibrated(trained: TrainResult) -> None:
    assert trained.metrics[MODEL_NAME]["ece"] < 0.05


def test_model_is_mostly_within_one_state(trained: TrainResult) -> None:
    model = trained.metrics[MODEL_NAME]
    assert model["within_one_accuracy"] >= model["accuracy"]
    assert model["within_one_accuracy"] > 0.85


def test_the_rule_finds_more_buying_customers_than_the_most_probable_state(
    trained: TrainResult,
) -> None:
    """The decision rule's reason to exist: intent and deciding customers found."""
    rule, plain = trained.metrics[MODEL_NAME], trained.metrics[MOST_PROBABLE_NAME]
    for state in ("intent", "deciding"):
        assert rule["per_state"][state]["recall"] >= plain["per_state"][state]["recall"], state
        assert rule["per_state"][state]["precision"] >= 0.35, state
    assert rule["log_loss"] == plain["log_loss"]
