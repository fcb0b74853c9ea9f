"""The simulator's at-risk label: who falls back within the horizon, and the signals before it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.simulation import Simulation, output, simulate
from training.simulation.process import BoolArray, Journeys

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def base() -> Simulation:
    return simulate(30_000, seed=11, with_events=False)


def _pushing_back(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Customers who want to buy or are deciding: where a resistant customer shows."""
    return snapshot[snapshot["true_state"].isin(["intent", "deciding"])].copy()


def test_at_risk_is_a_0_1_label_never_set_for_potential(base: Simulation) -> None:
    snapshot = base.snapshot
    assert set(snapshot["at_risk"].unique()) == {0, 1}
    assert (snapshot.loc[snapshot["true_state"] == "potential", "at_risk"] == 0).all()
    assert 0.05 < snapshot["at_risk"].mean() < 0.4
    by_state = snapshot.groupby("true_state")["at_risk"].mean()
    assert by_state["loyal"] > 0.02  # loyal customers stop buying too


def test_objections_piling_up_raise_the_risk(base: Simulation) -> None:
    customers = _pushing_back(base.snapshot)
    contacts = customers[["visits_90d", "replies_90d", "quotes_90d", "meetings_90d"]].sum(axis=1)
    piling = customers["objections_90d"] / (contacts + customers["objections_90d"]).clip(lower=1)
    share = customers.groupby(piling >= 0.15)["at_risk"].mean()
    assert share[True] > share[False] + 0.03


def test_silence_after_a_quote_raises_the_risk(base: Simulation) -> None:
    customers = _pushing_back(base.snapshot)
    silent_days = (base.as_of - customers["last_contact_at"]).dt.days
    silent = (customers["quotes_90d"] > 0) & (silent_days >= 7)
    share = customers.groupby(silent)["at_risk"].mean()
    assert share[True] > share[False] + 0.03


def test_a_falling_cadence_raises_the_risk(base: Simulation) -> None:
    customers = _pushing_back(base.snapshot)
    falling = customers["visits_30d"] * 3 < customers["visits_90d"] * 0.6
    share = customers.groupby(falling)["at_risk"].mean()
    assert share[True] > share[False] + 0.01


def test_the_future_changes_only_the_label(monkeypatch: pytest.MonkeyPatch) -> None:
    """Labelling draws from its own stream and writes nothing but `at_risk`: with a future
    where nobody falls back, every other column and every event is exactly the same."""
    real = simulate(2_000, seed=4)

    def nobody_falls(journeys: Journeys, *_: object) -> BoolArray:
        return np.zeros(journeys.state.size, bool)

    monkeypatch.setattr(output, "fall_back_within", nobody_falls)
    still = simulate(2_000, seed=4)
    assert still.snapshot["at_risk"].sum() == 0
    assert real.snapshot["at_risk"].sum() > 0
    columns = [c for c in real.snapshot.columns if c != "at_risk"]
    pd.testing.assert_frame_equal(real.snapshot[columns], still.snapshot[columns])
    assert real.events is not None and still.events is not None
    pd.testing.assert_frame_equal(real.events, still.events)
    assert (real.events["occurred_at"] <= real.as_of).all()
