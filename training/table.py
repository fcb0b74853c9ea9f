"""The in-memory shape every data source is brought into before features are built."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class CustomerTable:
    """Customers' raw inputs, extra columns and (when known) labels, aligned on customer id.

    `raw` has every column of `features.RAW_INPUTS` (counts float64 with NaN for unknown,
    contact times as UTC datetimes with NaT); `extras` holds the mapping's extra numeric columns
    (float64) and categorical columns (str, missing as None or NaN); `labels` holds states from
    `features.STATES`. All three share the same index: the customer id as str, named customer_id.
    """

    raw: pd.DataFrame
    extras: pd.DataFrame
    labels: pd.Series | None
    as_of: pd.Timestamp
    extra_numeric: tuple[str, ...] = ()
    extra_categorical: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def ids(self) -> pd.Index:
        """Customer ids, in row order."""
        return self.raw.index

    def subset(self, positions: object) -> CustomerTable:
        """Return the rows at integer `positions` (an array of row numbers)."""
        return CustomerTable(
            raw=self.raw.iloc[positions],  # type: ignore[call-overload]
            extras=self.extras.iloc[positions],  # type: ignore[call-overload]
            labels=None if self.labels is None else self.labels.iloc[positions],  # type: ignore[call-overload]
            as_of=self.as_of,
            extra_numeric=self.extra_numeric,
            extra_categorical=self.extra_categorical,
        )
