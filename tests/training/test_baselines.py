"""Baselines: each behaves as documented, copes with missing columns, returns 5 columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.baselines import (
    LogisticBaseline,
    MajorityBaseline,
    RuleOfThumbBaseline,
    rule_of_thumb,
)
from training.features import FEATURES


def row(**values: float) -> pd.DataFrame:
    base = dict.fromkeys(FEATURES, 0.0)
    base["days_since_last_contact"] = 5.0
    base.update(values)
    return pd.DataFrame([base])


@pytest.mark.parametrize(
    ("values", "state"),
    [
        ({}, 0),
        ({"replies_90d": 1, "replies": 1}, 1),
        ({"visits_90d": 2}, 1),
        ({"quotes_30d": 1, "replies": 1}, 2),
        ({"objections_30d": 1, "quotes_30d": 1}, 3),
        ({"purchases_90d": 1, "purchases": 1}, 4),
        ({"quotes_30d": 1, "days_since_last_contact": 75}, 1),  # silence steps intent down
        ({"purchases": 2, "purchases_90d": 1, "days_since_last_contact": 75}, 4),
    ],
)
def test_rule_of_thumb_follows_domain_rules(values: dict[str, float], state: int) -> None:
    assert rule_of_thumb(row(**values))[0] == state


def test_rule_of_thumb_copes_with_missing_columns() -> None:
    frame = row(replies_90d=1)
    frame["days_since_last_contact"] = np.nan
    frame = frame.drop(columns=["visits_90d"])
    assert rule_of_thumb(frame)[0] == 1


def test_majority_baseline_predicts_the_prior() -> None:
    y = np.array([0, 0, 0, 1, 2, 3, 4, 0])
    proba = MajorityBaseline().fit(row(), y).predict_proba(row())
    assert proba.argmax() == 0
    assert proba.sum() == pytest.approx(1.0)


def test_rule_baseline_learns_how_often_the_rule_is_right() -> None:
    x = pd.concat([row()] * 10 + [row(quotes_30d=1)] * 10, ignore_index=True)
    y = np.array([0] * 10 + [2] * 5 + [3] * 5)
    proba = RuleOfThumbBaseline().fit(x, y).predict_proba(row(quotes_30d=1))
    assert proba[0, 2] == pytest.approx(proba[0, 3])
    assert proba[0, 2] > proba[0, 0]


def test_logistic_baseline_learns_and_fills_absent_states() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(300, len(FEATURES))), columns=list(FEATURES))
    x["visits_30d"] = np.nan  # an all-missing column must not break it
    y = (x["replies"] > 0).to_numpy().astype(np.int64) * 2  # only states 0 and 2
    model = LogisticBaseline().fit(x, y)
    proba = model.predict_proba(x)
    assert proba.shape == (300, 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == y).mean() > 0.9
    assert (proba[:, 4] > 0).all()
