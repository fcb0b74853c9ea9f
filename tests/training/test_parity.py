"""Training/serving parity: the event-log path and the snapshot path give the same feature rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.features import (
    FEATURES,
    RAW_INPUTS,
    TIME_INPUTS,
    build_features,
    raw_inputs_from_events,
)
from training.simulation import Simulation


def test_parity_event_log_and_snapshot_agree_exactly(simulation: Simulation) -> None:
    snapshot = simulation.snapshot.set_index("customer_id")
    assert simulation.events is not None
    from_events = raw_inputs_from_events(simulation.events, simulation.as_of, snapshot.index)
    from_snapshot = snapshot[list(RAW_INPUTS)]

    # The simulator blanks a few snapshot fields as a CRM would; compare every field it kept.
    compared = 0
    for column in RAW_INPUTS:
        kept = from_snapshot[column].notna().to_numpy()
        compared += int(kept.sum())
        left, right = from_events[column][kept], from_snapshot[column][kept]
        if column in TIME_INPUTS:
            left, right = left.dt.as_unit("us"), right.dt.as_unit("us")
        assert (left.to_numpy() == right.to_numpy()).all(), column
    assert compared > 0.95 * len(snapshot) * len(RAW_INPUTS)

    unblanked = (from_snapshot.notna() | from_events.isna()).all(axis=1)
    rows = from_snapshot.index[unblanked.to_numpy()]
    assert len(rows) > 0.9 * len(snapshot)
    by_events = build_features(from_events.loc[rows], simulation.as_of)
    by_snapshot = build_features(from_snapshot.loc[rows], simulation.as_of)
    np.testing.assert_array_equal(by_events.to_numpy(), by_snapshot.to_numpy())
    assert list(by_events.columns) == list(FEATURES)


def test_parity_holds_at_a_later_as_of(simulation: Simulation) -> None:
    """Rescoring later from the same log moves recency and windows, never the lifetime counts."""
    assert simulation.events is not None
    later = simulation.as_of + pd.Timedelta(days=45)
    ids = pd.Index(simulation.snapshot["customer_id"])
    now = raw_inputs_from_events(simulation.events, simulation.as_of, ids)
    then = raw_inputs_from_events(simulation.events, later, ids)
    pd.testing.assert_frame_equal(now[["visits", "purchases"]], then[["visits", "purchases"]])
    # The log ends at the simulation's as_of, so 45 days on the 30-day windows are empty.
    thirty = [c for c in then.columns if c.endswith("_30d")]
    assert (then[thirty] == 0).all().all()
    assert (now[thirty].sum() > 0).all()
    recency_now = build_features(now, simulation.as_of)["days_since_last_contact"]
    recency_then = build_features(then, later)["days_since_last_contact"]
    diff = (recency_then - recency_now).dropna()
    assert np.allclose(diff, 45.0)
