"""The decision rule: which state is shown, given calibrated probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.decision import (
    MOST_PROBABLE,
    PRECISION_FLOOR,
    DecisionRule,
    fit_weights,
    load_costs,
    macro_f1,
    parse_costs,
    weighted_rule,
)
from training.errors import DataError
from training.features import STATES
from training.metrics import evaluate

INTENT, DECIDING = STATES.index("intent"), STATES.index("deciding")


def _shy_about_deciding(rows: int = 6_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities that know the state but under-weight `deciding`, as a rare state is."""
    rng = np.random.default_rng(seed)
    y = rng.choice(5, rows, p=[0.35, 0.3, 0.15, 0.08, 0.12])
    proba = rng.dirichlet(np.ones(5) * 2, rows)
    proba[np.arange(rows), y] += 0.35
    proba[:, DECIDING] *= 0.35
    return y, proba / proba.sum(axis=1, keepdims=True)


def test_most_probable_is_argmax() -> None:
    _, proba = _shy_about_deciding()
    assert (MOST_PROBABLE.decide(proba) == proba.argmax(axis=1)).all()


def test_weighted_rule_is_argmax_of_weighted_probabilities() -> None:
    _, proba = _shy_about_deciding()
    weights = np.array([0.5, 1.0, 2.0, 3.0, 0.7])
    assert (weighted_rule(weights).decide(proba) == (proba * weights).argmax(axis=1)).all()


def test_fitted_weights_find_the_under_weighted_state_and_raise_macro_f1() -> None:
    y_fit, p_fit = _shy_about_deciding(seed=1)
    y_new, p_new = _shy_about_deciding(seed=2)
    rule = fit_weights(p_fit, y_fit)
    assert rule.kind == "fitted weights"
    assert rule.weights is not None
    assert rule.weights[DECIDING] == rule.weights.max()
    plain, ruled = evaluate(y_new, p_new), evaluate(y_new, p_new, rule.decide(p_new))
    assert ruled["macro_f1"] > plain["macro_f1"] + 0.02
    # The probabilities are untouched: calibration and log loss are the same.
    assert ruled["log_loss"] == plain["log_loss"]
    assert ruled["ece"] == plain["ece"]


def test_fitted_weights_find_half_the_buying_customers_when_precision_allows() -> None:
    y_fit, p_fit = _shy_about_deciding(seed=3)
    y_new, p_new = _shy_about_deciding(seed=4)
    result = evaluate(y_new, p_new, fit_weights(p_fit, y_fit).decide(p_new))
    for state in ("intent", "deciding"):
        assert result["per_state"][state]["recall"] >= 0.5
        assert result["per_state"][state]["precision"] >= PRECISION_FLOOR


def test_recall_floor_never_costs_the_precision_floor() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice(5, 4_000)
    proba = rng.dirichlet(np.ones(5), 4_000)  # knows nothing: raising a state finds no one
    result = evaluate(y, proba, fit_weights(proba, y).decide(proba))
    for state in ("intent", "deciding"):
        shown = result["per_state"][state]
        assert shown["precision"] >= PRECISION_FLOOR or shown["recall"] < 0.5


def test_fitting_keeps_the_most_probable_state_when_nothing_gains() -> None:
    y = np.repeat(np.arange(5), 200)
    proba = np.full((1_000, 5), 0.05)
    proba[np.arange(1_000), y] = 0.8
    assert fit_weights(proba, y) is MOST_PROBABLE


def test_macro_f1_matches_sklearn() -> None:
    y, proba = _shy_about_deciding(rows=500)
    pred = proba.argmax(axis=1)
    ours = macro_f1(y, pred, np.unique(y))
    assert ours == pytest.approx(evaluate(y, proba)["macro_f1"])


def test_a_cost_matrix_shows_the_state_of_least_expected_cost() -> None:
    rule = parse_costs({"deciding": {"interested": 10}})
    proba = np.array([[0.0, 0.6, 0.0, 0.4, 0.0]])
    # Most probable is interested, but calling a deciding customer interested costs 10.
    assert STATES[int(rule.decide(proba)[0])] == "deciding"
    assert STATES[int(MOST_PROBABLE.decide(proba)[0])] == "interested"


def test_rule_round_trips_through_json() -> None:
    rule = weighted_rule(np.array([0.5, 1.0, 2.0, 3.0, 0.7]))
    again = DecisionRule.from_json(rule.to_json())
    assert again.kind == rule.kind
    assert np.array_equal(again.costs, rule.costs)
    assert DecisionRule.from_json(None) is MOST_PROBABLE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"buying": {"potential": 2}}, "[buying] is not a state"),
        ({"deciding": {"lost": 2}}, "'lost' is not a state"),
        ({"deciding": {"potential": "high"}}, "must be a number"),
        ({"deciding": {"potential": -1}}, "must be 0 or more"),
        ({"deciding": {"deciding": 1}}, "a right answer costs 0"),
        ({"deciding": 3}, "must be a table"),
    ],
)
def test_bad_cost_tables_name_the_entry(data: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match="costs") as caught:
        parse_costs(data)
    assert message in str(caught.value)


def test_load_costs_reads_toml_and_refuses_broken_files(tmp_path: Path) -> None:
    path = tmp_path / "costs.toml"
    path.write_text("[deciding]\npotential = 5\n")
    assert load_costs(path).costs[DECIDING, 0] == 5
    path.write_text("[deciding\n")
    with pytest.raises(DataError, match="not valid TOML"):
        load_costs(path)
    with pytest.raises(DataError, match="file not found"):
        load_costs(tmp_path / "missing.toml")
