"""Turn simulated journeys into DealNode's two data files: an event log and a snapshot.

The snapshot's counts are aggregated here, from the simulator's own event arrays, and not by
`training.features`: the parity test then compares two independent computations.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.at_risk import HORIZON_DAYS
from training.features import COUNT_INPUTS, RAW_INPUTS, STATES, WINDOW_DAYS, InteractionType, to_utc
from training.simulation import params as p
from training.simulation.process import (
    N_TYPES,
    SECONDS_PER_DAY,
    IntArray,
    Journeys,
    fall_back_within,
    mislabel,
    simulate_journeys,
)

EVENT_TYPES = tuple(t.value for t in InteractionType)
ObjectArray = npt.NDArray[np.object_]
QUOTE, OBJECTION = 2, 3


@dataclass(frozen=True)
class Simulation:
    """A simulated customer base."""

    snapshot: pd.DataFrame
    events: pd.DataFrame | None
    as_of: pd.Timestamp


def simulate(
    n_customers: int,
    *,
    seed: int = 0,
    as_of: str | pd.Timestamp = "2026-11-01T00:00:00Z",
    with_events: bool = True,
    mislabel_rate: float = 0.03,
    missing_rate: float = 0.02,
) -> Simulation:
    """Simulate `n_customers` journeys up to `as_of`; the same seed gives the same data."""
    if n_customers < 1:
        raise ValueError("customers: need at least 1")
    if not 0 <= mislabel_rate < 1 or not 0 <= missing_rate < 1:
        raise ValueError("mislabel and missing rates must be in [0, 1)")
    when = to_utc(as_of)
    rng = np.random.default_rng(seed)
    # The future has its own stream, so labelling it leaves every other draw as it was.
    (future,) = rng.spawn(1)
    journeys = simulate_journeys(n_customers, rng, when.timestamp())
    ids = _ids("c", n_customers, 7)
    snapshot = _snapshot(journeys, ids, when)
    snapshot["state"] = np.asarray(STATES, dtype=object)[
        mislabel(rng, journeys.state, mislabel_rate)
    ]
    snapshot["true_state"] = np.asarray(STATES, dtype=object)[journeys.state]
    snapshot["as_of"] = when
    fell = fall_back_within(journeys, future, when.timestamp(), HORIZON_DAYS)
    snapshot["at_risk"] = fell.astype(np.int64)
    _blank_fields(rng, snapshot, missing_rate)
    events = _events(rng, journeys, ids) if with_events else None
    return Simulation(snapshot=snapshot, events=events, as_of=when)


def _ids(prefix: str, n: int, width: int) -> ObjectArray:
    numbers = pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)
    return (prefix + numbers).to_numpy(dtype=object)


def _snapshot(journeys: Journeys, ids: ObjectArray, as_of: pd.Timestamp) -> pd.DataFrame:
    n = len(journeys.segment)
    owner, kind, time = journeys.event_customer, journeys.event_type, journeys.event_time
    now = as_of.timestamp()
    frame = pd.DataFrame({"customer_id": ids})
    frame["segment"] = np.asarray(p.SEGMENTS, dtype=object)[journeys.segment]
    for days in (None, *WINDOW_DAYS):
        inside = np.ones(time.size, bool) if days is None else time > now - days * SECONDS_PER_DAY
        counts = np.bincount(owner[inside] * N_TYPES + kind[inside], minlength=n * N_TYPES)
        counts = counts.reshape(n, N_TYPES).astype(np.float64)
        suffix = "" if days is None else f"_{days}d"
        for column, name in enumerate(COUNT_INPUTS):
            frame[f"{name}{suffix}"] = counts[:, column]
    order = np.lexsort((time, owner))
    sorted_owner, sorted_time = owner[order], time[order]
    has = np.bincount(owner, minlength=n) > 0
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    starts = np.searchsorted(sorted_owner, np.arange(n), side="left")
    ends = np.searchsorted(sorted_owner, np.arange(n), side="right")
    first[has] = sorted_time[starts[has]]
    last[has] = sorted_time[ends[has] - 1]
    for name, values in (("first_contact_at", first), ("last_contact_at", last)):
        frame[name] = pd.to_datetime(values, unit="s", utc=True).as_unit("us")
    return frame[["customer_id", "segment", *RAW_INPUTS]]


def _blank_fields(rng: np.random.Generator, snapshot: pd.DataFrame, rate: float) -> None:
    """Blank what CRMs lose: a segment, the recent-activity export, a creation date."""
    n = len(snapshot)
    snapshot.loc[rng.random(n) < rate, "segment"] = None
    windowed = [c for c in snapshot.columns if c.endswith(tuple(f"_{d}d" for d in WINDOW_DAYS))]
    snapshot.loc[rng.random(n) < rate, windowed] = np.nan
    snapshot.loc[rng.random(n) < rate, "first_contact_at"] = pd.NaT


def _events(rng: np.random.Generator, journeys: Journeys, ids: ObjectArray) -> pd.DataFrame:
    order = np.lexsort((journeys.event_type, journeys.event_time, journeys.event_customer))
    owner = journeys.event_customer[order]
    kind = journeys.event_type[order]
    segment = journeys.segment[owner]
    events = pd.DataFrame(
        {
            "event_id": _ids("e", len(order), 9),
            "customer_id": ids[owner],
            "type": np.asarray(EVENT_TYPES, dtype=object)[kind],
            "occurred_at": pd.to_datetime(journeys.event_time[order], unit="s", utc=True).as_unit(
                "us"
            ),
        }
    )
    events["objection_kind"] = _objection_kinds(rng, kind, segment)
    value = p.QUOTE_VALUE_MEDIAN[segment] * rng.lognormal(0.0, p.QUOTE_VALUE_SIGMA, len(kind))
    events["quote_value"] = np.where(kind == QUOTE, np.round(value, 2), np.nan)
    return events


def _objection_kinds(rng: np.random.Generator, kind: IntArray, segment: IntArray) -> ObjectArray:
    cumulative = p.OBJECTION_KIND_SHARES.cumsum(axis=1)[segment]
    pick = (rng.random(len(kind))[:, None] > cumulative).sum(axis=1)
    names = np.asarray(p.OBJECTION_KINDS, dtype=object)[np.minimum(pick, 2)]
    return np.where(kind == OBJECTION, names, np.asarray(None, dtype=object)).astype(object)


def write_simulation(
    sim: Simulation, out_dir: Path, fmt: Literal["parquet", "csv"] = "parquet"
) -> list[Path]:
    """Write snapshot, events (if any) and simulation.json; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (("snapshot", sim.snapshot), ("events", sim.events)):
        if frame is None:
            continue
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    info = {
        "customers": len(sim.snapshot),
        "events": None if sim.events is None else len(sim.events),
        "as_of": sim.as_of.isoformat(),
        "state_shares": sim.snapshot["true_state"].value_counts(normalize=True).round(4).to_dict(),
        "at_risk_share": round(float(sim.snapshot["at_risk"].mean()), 4),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    meta = out_dir / "simulation.json"
    meta.write_text(json.dumps(info, indent=2) + "\n")
    written.append(meta)
    return written
