"""The inputs the model was recently asked about: stored customers' design matrices.

Each stored customer keeps the raw inputs it was last scored on and the time they were
measured at (`inputs_as_of`, the very `as_of` its score used), so its design matrix is rebuilt
here with the shared feature code exactly as scoring built it, without re-reading events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import ColumnElement, Text, cast, column, select, table
from sqlalchemy.orm import Session

from app.bulk import for_session
from training.design import FeatureLayout
from training.features import (
    RAW_COUNT_INPUTS,
    TIME_INPUTS,
    FloatArray,
    epoch_seconds,
    epoch_seconds_of,
)
from training.prediction import RawInputs, design

_TIMES = (*TIME_INPUTS, "inputs_as_of")
_CUSTOMER = table(
    "customer",
    *(
        column(name)
        for name in (*RAW_COUNT_INPUTS, *_TIMES, "state", "model_version", "scored_at", "extras")
    ),
)


@dataclass(frozen=True)
class WindowSample:
    """The customers scored since a time (the most recent ones when there are too many)."""

    customers: int
    sampled: bool
    """True when more were scored than were read."""
    matrix: FloatArray
    states: list[str | None]
    model_versions: list[str | None]


def read_window(
    session: Session, layout: FeatureLayout, *, since: datetime, limit: int
) -> WindowSample:
    """The design matrices of (at most `limit` of) the customers scored since `since`.

    The newest by `scored_at`, read through its index: the cost stays bounded however large
    the customer base grows, and a sample of tens of thousands measures shares to well
    under a percent.
    """
    c = _CUSTOMER.c
    bulk = for_session(session)
    columns: list[ColumnElement[Any]] = [
        bulk.contact_time(c[name]) if name in _TIMES else c[name]
        for name in (*RAW_COUNT_INPUTS, *_TIMES, "state", "model_version")
    ]
    with_extras = bool(layout.extra_numeric or layout.extra_categorical)
    if with_extras:
        columns.append(cast(c.extras, Text).label("extras"))
    query = (
        select(*columns).where(c.scored_at >= since).order_by(c.scored_at.desc()).limit(limit + 1)
    )
    rows = session.execute(query).all()
    sampled = len(rows) > limit
    rows = rows[:limit]
    width = len(RAW_COUNT_INPUTS) + len(_TIMES) + 2 + int(with_extras)
    by_column = list(zip(*rows, strict=True)) if rows else [()] * width
    values = {
        name: np.array(by_column[i], dtype=np.float64) for i, name in enumerate(RAW_COUNT_INPUTS)
    }
    offset = len(RAW_COUNT_INPUTS)
    times = {
        name: _seconds(by_column[offset + i], bulk.times_in_us) for i, name in enumerate(_TIMES)
    }
    extras = [_json(v) for v in by_column[-1]] if with_extras else [{} for _ in rows]
    matrix = matrices_as_of(values, times, extras, layout)
    states_at = offset + len(_TIMES)
    return WindowSample(
        customers=len(rows),
        sampled=sampled,
        matrix=matrix,
        states=list(by_column[states_at]),
        model_versions=list(by_column[states_at + 1]),
    )


def matrices_as_of(
    counts: dict[str, FloatArray],
    times: dict[str, FloatArray],
    extras: Sequence[dict[str, Any]],
    layout: FeatureLayout,
) -> FloatArray:
    """Each customer's design matrix as of its own `inputs_as_of` (epoch seconds), in one call.

    The feature code takes one time for all rows; only "days since" features read it, and
    they depend on the time between it and a contact. So each customer's contact times are
    moved by the gap between its own time and a common one: the differences, and so the
    features, stay what they were to well under a microsecond.
    """
    reference = datetime(2000, 1, 1, tzinfo=UTC)
    common = epoch_seconds_of(reference)
    shift = common - times["inputs_as_of"]
    values = dict(counts)
    for name in TIME_INPUTS:
        values[name] = times[name] + shift
    if not len(shift):
        return np.empty((0, len(layout.columns)))
    return design(RawInputs.of_columns(values, extras), reference, layout)


def _seconds(values: Sequence[Any], times_in_us: bool) -> FloatArray:
    if times_in_us:  # None becomes NaN; microseconds are exact in a float64
        return np.array(values, dtype=np.float64) / 1e6
    return epoch_seconds(pd.Series(values, dtype=object))


def _json(value: str | None) -> dict[str, Any]:
    parsed = orjson.loads(value) if value else None
    return parsed if isinstance(parsed, dict) else {}
