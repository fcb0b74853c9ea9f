"""The nightly run's reading of stored inputs (`app.nightly.chunks.stored_inputs`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from app.nightly.chunks import stored_inputs
from training.features import RAW_COUNT_INPUTS, epoch_seconds

AS_OF = datetime(2026, 11, 1, 12, tzinfo=UTC)
LAST: list[datetime | None] = [
    AS_OF - timedelta(days=30),  # right at the 30-day cutoff: outside the window
    AS_OF - timedelta(days=30) + timedelta(microseconds=1),  # just inside it
    AS_OF - timedelta(days=90, microseconds=1),  # outside both windows
    None,  # never contacted: outside too
]


def _columns(times: list[object]) -> dict[str, list[object]]:
    columns: dict[str, list[object]] = {name: [5, 5, 5, 5] for name in RAW_COUNT_INPUTS}
    columns["first_contact_at"] = times
    columns["last_contact_at"] = times
    return columns


def _micros(when: datetime | None) -> int | None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return None if when is None else (when - epoch) // timedelta(microseconds=1)


def test_times_as_microseconds_and_as_text_give_the_offline_seconds() -> None:
    expected = epoch_seconds(pd.Series(LAST, dtype=object))
    forms: dict[str, tuple[bool, list[object]]] = {
        "microseconds": (True, [_micros(t) for t in LAST]),
        "sqlite text": (False, [t and t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in LAST]),
        "datetimes": (False, list(LAST)),
    }
    for in_us, times in forms.values():
        values = stored_inputs(_columns(times), AS_OF, times_in_us=in_us)
        np.testing.assert_array_equal(values["last_contact_at"], expected)
        np.testing.assert_array_equal(values["first_contact_at"], expected)


def test_window_counts_are_zero_once_the_last_contact_left_the_window() -> None:
    values = stored_inputs(_columns([_micros(t) for t in LAST]), AS_OF, times_in_us=True)
    np.testing.assert_array_equal(values["visits_30d"], [0.0, 5.0, 0.0, 0.0])
    np.testing.assert_array_equal(values["visits_90d"], [5.0, 5.0, 0.0, 0.0])
    np.testing.assert_array_equal(values["visits"], [5.0, 5.0, 5.0, 5.0])
