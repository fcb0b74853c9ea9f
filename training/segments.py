"""A family of models: segment models for some values of one column, the global model for the rest.

Every member reads the same design matrix (the global model's layout), so serving a family is
only a matter of which booster reads which row: rows are routed by the raw value of the
segment column, and a value without a segment model of its own (unknown, missing, a value
training never saw or one that was not used) goes to the global model. `segment_fitting.py`
builds a family; `docs/segment-models.md` gives the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from training.design import present

GLOBAL = -1
"""The route of a row the global model scores."""


@dataclass(frozen=True)
class SegmentPart:
    """One segment's booster and temperature, verified like the global model's."""

    value: str
    booster: lgb.Booster
    temperature: float
    checksum: str


@dataclass(frozen=True)
class SegmentFamily:
    """The segment column and the segment models used on it (the global model is the rest)."""

    column: str
    parts: tuple[SegmentPart, ...]

    @cached_property
    def _index_of(self) -> dict[str, int]:
        return {part.value: index for index, part in enumerate(self.parts)}

    @property
    def values(self) -> tuple[str, ...]:
        """The segments with a model of their own, in the metadata's order."""
        return tuple(part.value for part in self.parts)

    def route(self, values: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[np.intp]:
        """Per row, the index of the part that scores it, or `GLOBAL`.

        Values are compared as the layout encodes categories (as text), so a request's
        value and an export's value of the same category go to the same model.
        """
        lookup = self._index_of
        return np.fromiter(
            (lookup.get(str(v), GLOBAL) if present(v) else GLOBAL for v in values),
            dtype=np.intp,
            count=len(values),
        )

    def names(self, routes: npt.NDArray[np.intp]) -> list[str | None]:
        """Each row's segment name (None: the global model) from its route."""
        names: list[str | None] = [*self.values, None]  # GLOBAL (-1) picks the last
        return [names[r] for r in routes.tolist()]
