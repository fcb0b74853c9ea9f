"""Simulated customers with a region column where one region buys by other rules.

The simulator's own output stays as it is (other tests and documented figures depend on it);
these tests overwrite its `segment` column (the categorical input it already has) with
regions: in `odd` the state follows the number of visits alone, so a model of its own wins;
`slice` is a random share of ordinary customers, so the global model does as well; the few
customers of `noloyal` are never loyal, so it cannot be trained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.features import STATES
from training.simulation import simulate

CUSTOMERS = 4_000


def region_snapshot(seed: int = 3) -> pd.DataFrame:
    """A small snapshot whose `segment` column holds the regions described above."""
    frame = simulate(CUSTOMERS, seed=seed, with_events=False).snapshot.copy()
    rng = np.random.default_rng(seed)
    region = rng.choice(["odd", "slice", "main"], size=len(frame), p=[0.3, 0.3, 0.4])
    region = region.astype(object)
    region[rng.random(len(frame)) < 0.02] = None
    not_loyal = np.flatnonzero((frame["state"] != "loyal").to_numpy() & (region == "main"))
    region[not_loyal[:150]] = "noloyal"
    odd = region == "odd"
    # In `odd` the state is the visits' quintile: nothing like the other regions' rules.
    ranks = frame.loc[odd, "visits"].rank(method="first", pct=True).to_numpy()
    frame.loc[odd, "state"] = [STATES[min(int(r * 5), 4)] for r in ranks]
    frame["segment"] = region
    return frame


def write_region_snapshot(path: Path) -> Path:
    """Write `region_snapshot()` as Parquet to `path`; return it."""
    region_snapshot().to_parquet(path, index=False)
    return path
