"""The journey simulator: deterministic, well-formed, and as docs/domain.md says customers act."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.features import COUNT_INPUTS, RAW_INPUTS, STATES, WINDOW_DAYS
from training.simulation import Simulation, simulate, write_simulation

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def small() -> Simulation:
    return simulate(5000, seed=3)


def test_simulate_is_deterministic_for_a_seed() -> None:
    first, again, other = simulate(400, seed=1), simulate(400, seed=1), simulate(400, seed=2)
    pd.testing.assert_frame_equal(first.snapshot, again.snapshot)
    assert first.events is not None
    assert again.events is not None
    pd.testing.assert_frame_equal(first.events, again.events)
    assert not first.snapshot["visits"].equals(other.snapshot["visits"])


def test_simulate_writes_the_documented_schema(small: Simulation) -> None:
    snapshot = small.snapshot
    expected = ["customer_id", "segment", *RAW_INPUTS, "state", "true_state", "as_of", "at_risk"]
    assert list(snapshot.columns) == expected
    assert snapshot["customer_id"].is_unique
    assert str(snapshot["last_contact_at"].dtype) == "datetime64[us, UTC]"
    assert set(snapshot["state"]) == set(STATES)
    assert set(snapshot["true_state"]) == set(STATES)
    assert set(snapshot["segment"].dropna()) == {"ecommerce", "real_estate", "car_sales", "b2b"}


def test_simulate_gives_every_state_a_real_share(small: Simulation) -> None:
    shares = small.snapshot["true_state"].value_counts(normalize=True)
    assert shares.min() > 0.05


def test_simulate_mislabels_a_few_percent_mostly_to_neighbours(small: Simulation) -> None:
    snapshot = small.snapshot
    wrong = snapshot["state"] != snapshot["true_state"]
    assert 0.015 < wrong.mean() < 0.05
    position = {s: i for i, s in enumerate(STATES)}
    distance = (snapshot["state"].map(position) - snapshot["true_state"].map(position)).abs()
    assert (distance[wrong] == 1).mean() > 0.6


def test_simulate_windows_nest_and_events_stop_at_as_of(small: Simulation) -> None:
    snapshot = small.snapshot.dropna(subset=["visits_30d"])
    for name in COUNT_INPUTS:
        assert (snapshot[f"{name}_{WINDOW_DAYS[0]}d"] <= snapshot[f"{name}_{WINDOW_DAYS[1]}d"]).all()
        assert (snapshot[f"{name}_{WINDOW_DAYS[1]}d"] <= snapshot[name]).all()
    assert small.events is not None
    assert (small.events["occurred_at"] <= small.as_of).all()
    assert small.events["event_id"].is_unique


def test_simulate_counts_match_an_independent_groupby(small: Simulation) -> None:
    assert small.events is not None
    counted = small.events.groupby(["customer_id", "type"]).size().unstack(fill_value=0)
    snapshot = small.snapshot.set_index("customer_id")
    for kind, column in zip(("visit", "quote", "purchase"), ("visits", "quotes", "purchases"), strict=True):
        expected = counted[kind].reindex(snapshot.index, fill_value=0)
        assert (snapshot[column] == expected).all()


def test_simulate_segments_differ_as_domain_says(small: Simulation) -> None:
    snapshot = small.snapshot.dropna(subset=["segment"])
    by_segment = snapshot.groupby("segment")
    assert by_segment["meetings"].mean()["b2b"] > 2 * by_segment["meetings"].mean()["ecommerce"]
    loyal = snapshot[snapshot["true_state"] == "loyal"].groupby("segment")["purchases"].mean()
    assert loyal["ecommerce"] > loyal["real_estate"]


def test_simulate_quiet_customers_have_decayed(small: Simulation) -> None:
    days = (small.as_of - small.snapshot["last_contact_at"]).dt.days
    hot = small.snapshot["true_state"].isin(["intent", "deciding"])
    assert hot[days >= 60].mean() < hot[days < 14].mean() / 2


def test_simulate_blanks_a_few_fields(small: Simulation) -> None:
    snapshot = small.snapshot
    assert 0.005 < snapshot["segment"].isna().mean() < 0.05
    assert 0.005 < snapshot["visits_30d"].isna().mean() < 0.05
    assert snapshot["visits"].notna().all()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_simulation_round_trips(tmp_path: Path, fmt: str) -> None:
    sim = simulate(200, seed=5)
    paths = write_simulation(sim, tmp_path, fmt=fmt)  # type: ignore[arg-type]
    assert {p.name for p in paths} == {f"snapshot.{fmt}", f"events.{fmt}", "simulation.json"}
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    events = read(tmp_path / f"events.{fmt}")
    times = pd.to_datetime(events["occurred_at"], utc=True)
    assert times.max() <= sim.as_of
    assert sim.events is not None
    assert len(events) == len(sim.events)
    np.testing.assert_array_equal(read(tmp_path / f"snapshot.{fmt}")["visits"], sim.snapshot["visits"])
