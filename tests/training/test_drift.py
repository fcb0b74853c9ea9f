"""PSI and reference profiles: the arithmetic monitoring's verdicts rest on."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from training.design import FeatureLayout
from training.drift import (
    SHARE_FLOOR,
    FeatureProfile,
    Reference,
    known_psi,
    level_of,
    profile_of,
    psi,
    reference_of,
    shares_in,
)
from training.features import FEATURES, STATES
from training.train import TrainResult


def test_psi_of_identical_shares_is_zero() -> None:
    shares = (0.1, 0.2, 0.3, 0.4)
    assert psi(shares, shares) == 0.0


def test_psi_of_a_known_shift() -> None:
    # 0.3 of the rows move between two bins: 0.3 ln(0.8/0.5) + 0.3 ln(0.5/0.2) = 0.3 ln 4.
    assert psi((0.8, 0.2), (0.5, 0.5)) == pytest.approx(0.3 * math.log(4.0))
    assert psi((0.8, 0.2), (0.5, 0.5)) == pytest.approx(psi((0.5, 0.5), (0.8, 0.2)))


def test_an_empty_bin_is_floored_not_infinite() -> None:
    value = psi((0.5, 0.5, 0.0), (0.4, 0.4, 0.2))
    expected = 2 * (-0.1 * math.log(0.4 / 0.5)) + (0.2 - SHARE_FLOOR) * math.log(0.2 / SHARE_FLOOR)
    assert math.isfinite(value)
    assert value == pytest.approx(expected)
    assert level_of(value) == "drift"


def test_psi_refuses_shares_of_different_bins() -> None:
    with pytest.raises(ValueError, match="2 expected shares against 3"):
        psi((0.5, 0.5), (0.2, 0.3, 0.5))


def test_levels() -> None:
    assert [level_of(v) for v in (0.0, 0.099, 0.1, 0.249, 0.25, 3.0)] == [
        "stable",
        "stable",
        "watch",
        "watch",
        "drift",
        "drift",
    ]


def test_numeric_bins_are_deduplicated_and_missing_has_its_own() -> None:
    layout = FeatureLayout()
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(1000, len(FEATURES)))
    matrix[:, 0] = np.where(rng.random(1000) < 0.7, 0.0, 1.0 + rng.integers(0, 5, 1000))
    matrix[:100, 1] = np.nan
    profiles = profile_of(matrix, layout)
    piled = profiles[0]
    assert len(set(piled.edges)) == len(piled.edges) < 9  # 70% zeros: cuts collapsed
    assert sum(piled.shares) == pytest.approx(1.0)
    assert piled.shares[-1] == 0.0  # no missing values
    assert profiles[1].shares[-1] == pytest.approx(0.1)
    assert len(profiles[2].edges) == 9  # a continuous feature gets ten bins
    assert profiles[2].shares[:-1] == pytest.approx((0.1,) * 10, abs=0.002)
    # The training rows against themselves: no drift; shifted by one sd: drift.
    assert psi(profiles[2].shares, shares_in(profiles[2], matrix[:, 2])) == 0.0
    assert level_of(psi(profiles[2].shares, shares_in(profiles[2], matrix[:, 2] + 1.0))) == "drift"


def test_known_psi_leaves_how_often_a_value_is_unknown_to_its_own_figure() -> None:
    """An export with a tenth of leads never contacted, against a feed where every customer
    has a contact (as customers known from their events do): the same distribution of the
    known values is stable, however the unknown shares differ."""
    rng = np.random.default_rng(1)
    training = rng.normal(size=(20_000, len(FEATURES)))
    training[:, 0] = rng.gamma(2.0, 100.0, 20_000)
    training[:2_000, 0] = np.nan
    profile = profile_of(training, FeatureLayout())[0]
    assert profile.missing_share == pytest.approx(0.1)
    live = shares_in(profile, rng.gamma(2.0, 100.0, 3_000))
    assert live[-1] == 0.0
    assert level_of(psi(profile.shares, live)) == "drift"  # the unknown bin alone
    stable = known_psi(profile, live)
    assert stable is not None
    assert level_of(stable) == "stable"
    moved = known_psi(profile, shares_in(profile, rng.gamma(2.0, 160.0, 3_000)))
    assert moved is not None
    assert level_of(moved) == "drift"
    assert known_psi(profile, shares_in(profile, np.full(50, np.nan))) is None  # none known


def test_categorical_unseen_is_missing_and_rare_ones_are_other() -> None:
    layout = FeatureLayout(
        extra_categorical=("region",), categories={"region": tuple(f"r{i}" for i in range(30))}
    )
    codes = np.repeat(np.arange(30, dtype=np.float64), np.arange(30, 0, -1))
    matrix = np.zeros((len(codes), len(layout.columns)))
    matrix[:, -1] = codes
    profile = profile_of(matrix, layout)[-1]
    assert profile.kind == "categorical"
    assert profile.categories == tuple(range(20))  # the twenty most frequent, by share
    other = sum(range(1, 11)) / len(codes)  # codes 20-29 appear 10, 9, ... 1 times
    assert profile.shares[20] == pytest.approx(other)
    assert profile.shares[21] == 0.0
    # Serving turns a category training never saw into NaN, the missing bin.
    live = np.array([0.0, np.nan, np.nan, 25.0])
    assert shares_in(profile, live)[0] == 0.25
    assert shares_in(profile, live)[20] == 0.25
    assert shares_in(profile, live)[21] == 0.5


def test_no_rows_have_no_shares() -> None:
    profile = FeatureProfile("x", "numeric", shares=(0.5, 0.5, 0.0), edges=(1.0,))
    assert shares_in(profile, np.array([])) == (0.0, 0.0, 0.0)


def test_reference_round_trips_through_json() -> None:
    layout = FeatureLayout()
    rng = np.random.default_rng(1)
    matrix = rng.exponential(size=(500, len(FEATURES)))
    labels = rng.integers(0, len(STATES), 500)
    reference = reference_of(matrix, labels, layout)
    again = Reference.from_json(json.loads(json.dumps(reference.to_json())))
    assert again.rows == 500
    assert sum(again.state_mix.values()) == pytest.approx(1.0)
    assert [p.name for p in again.features] == list(FEATURES)
    assert again.features[3].edges == reference.features[3].edges
    with pytest.raises(ValueError, match="format"):
        Reference.from_json({**reference.to_json(), "format": 99})


def test_train_writes_a_small_reference(trained: TrainResult) -> None:
    metadata = json.loads((trained.path / "metadata.json").read_text())
    entry = metadata["monitoring_reference"]
    assert len(json.dumps(entry)) < 20_000
    reference = Reference.from_json(entry)
    layout = FeatureLayout.from_json(metadata["layout"])
    assert [p.name for p in reference.features] == list(layout.columns)
    kinds = {p.name: p.kind for p in reference.features}
    assert all(kinds[name] == "categorical" for name in layout.extra_categorical)
    assert kinds["visits"] == "numeric"
    assert reference.rows == metadata["data"]["rows"]["train"]
    # The mix is of the states shown on validation, as the decision rule shows them: the
    # rule's own test-split recall and precision say how that differs from the true mix.
    test = metadata["metrics"]["test"]["model"]["per_state"]
    counts = metadata["data"]["class_counts"]
    total = sum(counts.values())
    for state in STATES:
        row = test[state]
        shown_share = counts[state] / total * row["recall"] / max(row["precision"], 1e-9)
        assert reference.state_mix[state] == pytest.approx(shown_share, abs=0.02)
