"""The model's input matrix: the core features plus a mapping's extra columns, in a fixed layout.

The layout (extra columns and each categorical's vocabulary) is learnt from the training rows
and saved with the model, so serving encodes a category exactly as training did; a value the
model never saw becomes missing rather than a new code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.features import FEATURES, build_features
from training.table import CustomerTable


@dataclass(frozen=True)
class FeatureLayout:
    """Column order of the design matrix and the vocabulary of each categorical column."""

    extra_numeric: tuple[str, ...] = ()
    extra_categorical: tuple[str, ...] = ()
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """All model inputs, in the order the booster expects them."""
        return FEATURES + self.extra_numeric + self.extra_categorical

    @cached_property
    def category_codes(self) -> dict[str, dict[str, int]]:
        """Category -> code per categorical column (built once; the request path uses it)."""
        return {
            name: {v: i for i, v in enumerate(vocab)} for name, vocab in self.categories.items()
        }

    @property
    def categorical_positions(self) -> list[int]:
        """Column positions LightGBM must treat as categorical."""
        start = len(FEATURES) + len(self.extra_numeric)
        return list(range(start, start + len(self.extra_categorical)))

    def to_json(self) -> dict[str, Any]:
        """Serialise for metadata.json."""
        return {
            "extra_numeric": list(self.extra_numeric),
            "extra_categorical": list(self.extra_categorical),
            "categories": {k: list(v) for k, v in self.categories.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureLayout:
        """Rebuild a layout saved by `to_json`."""
        return cls(
            extra_numeric=tuple(data["extra_numeric"]),
            extra_categorical=tuple(data["extra_categorical"]),
            categories={k: tuple(v) for k, v in data["categories"].items()},
        )


def fit_layout(table: CustomerTable) -> FeatureLayout:
    """Learn the layout from training rows: categories sorted so the codes are reproducible."""
    categories = {
        name: tuple(sorted(str(v) for v in table.extras[name].dropna().unique()))
        for name in table.extra_categorical
    }
    return FeatureLayout(
        extra_numeric=table.extra_numeric,
        extra_categorical=table.extra_categorical,
        categories=categories,
    )


def design_matrix(table: CustomerTable, layout: FeatureLayout) -> pd.DataFrame:
    """Build the float64 matrix the model reads, as of `table.as_of`, with column names.

    Raises KeyError naming the column when the table lacks an extra column the layout needs.
    """
    core = build_features(table.raw, table.as_of)
    extras = {name: table.extras[name] for name in layout.extra_numeric + layout.extra_categorical}
    matrix = design_array(core.to_numpy(np.float64), extras, layout)
    return pd.DataFrame(matrix, index=core.index, columns=list(layout.columns))


def design_array(
    core: npt.NDArray[np.float64], extras: Mapping[str, Any], layout: FeatureLayout
) -> npt.NDArray[np.float64]:
    """Append the layout's extra columns (values per row, None/NaN missing) to core features."""
    if not layout.extra_numeric and not layout.extra_categorical:
        return core
    columns = [core]
    for name in layout.extra_numeric:
        columns.append(_as_float(extras[name]).reshape(-1, 1))
    for name in layout.extra_categorical:
        lookup = layout.category_codes.get(name, {})
        codes = [lookup.get(str(v), np.nan) if present(v) else np.nan for v in extras[name]]
        columns.append(np.asarray(codes, dtype=np.float64).reshape(-1, 1))
    return np.hstack(columns)


def present(value: object) -> bool:
    """Whether a raw category value is given (None, NA and NaN are not)."""
    return value is not None and value is not pd.NA and value == value  # NaN != NaN


def _as_float(values: Any) -> npt.NDArray[np.float64]:
    """Numbers as floats (None and NaN missing); text that is not a number is missing too."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
