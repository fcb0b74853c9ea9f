"""Splits and calibration: customer-level, seeded, time-ordered when asked; honest temperatures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax

from training.dataset import to_customer_table
from training.fitting import fit_temperature, label_codes, split_customers
from training.mapping import NATIVE_MAPPING
from training.simulation import Simulation


def test_stratified_split_is_disjoint_seeded_and_keeps_shares(simulation: Simulation) -> None:
    table = to_customer_table(simulation.snapshot, NATIVE_MAPPING, require_labels=True)
    assert table.labels is not None
    y = label_codes(table.labels)
    split = split_customers(table, y, seed=4)
    again = split_customers(table, y, seed=4)
    parts = [split.train, split.validation, split.test]
    assert sum(len(p) for p in parts) == len(y)
    assert len(np.unique(np.concatenate(parts))) == len(y)
    np.testing.assert_array_equal(split.test, again.test)
    shares = np.bincount(y, minlength=5) / len(y)
    test_shares = np.bincount(y[split.test], minlength=5) / len(split.test)
    np.testing.assert_allclose(test_shares, shares, atol=0.01)


def test_time_split_tests_on_the_newest_customers(simulation: Simulation) -> None:
    table = to_customer_table(simulation.snapshot, NATIVE_MAPPING, require_labels=True)
    assert table.labels is not None
    split = split_customers(table, label_codes(table.labels), method="time")
    first = table.raw["first_contact_at"]
    assert first.iloc[split.train].max() <= first.iloc[split.test].dropna().min()


def test_fit_temperature_undoes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 4000)
    honest = rng.normal(size=(4000, 5))
    honest[np.arange(4000), y] += 1.5
    overconfident = honest * 3.0
    temperature = fit_temperature(overconfident, y)
    # Scaling the scores by 3 must scale the best temperature by 3, whatever the data.
    assert temperature == pytest.approx(3.0 * fit_temperature(honest, y), rel=0.02)

    def nll(scores: np.ndarray) -> float:
        return float(-log_softmax(scores, axis=1)[np.arange(4000), y].mean())

    assert nll(overconfident / temperature) < nll(overconfident)
