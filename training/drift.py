"""How far live inputs have moved from the training data: reference profiles and PSI.

A model is only as good as the resemblance between what it is asked about and what it learnt
from. The population stability index (PSI) measures that resemblance one feature at a time:
the training rows are cut into bins once, when the model is trained, and kept with the model
(`profile_of`, a few KB in metadata.json); later, live rows are counted into the same bins
(`shares_in`) and the two sets of shares compared (`psi`). The same index compares the
predicted state mix with the training labels' mix.

Bins are fixed at training time so every later comparison uses the same ruler: recomputing
quantiles on live data would hide exactly the shift it is meant to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from training.design import FeatureLayout
from training.features import STATES

FloatArray = npt.NDArray[np.float64]
NUMERIC_BINS = 10
MAX_CATEGORIES = 20
"""Categories kept by name per categorical feature; the rarer ones share one `other` bin,
so a large vocabulary cannot blow up metadata.json."""
SHARE_FLOOR = 1e-4
"""An empty bin's share is taken as this: PSI divides and takes logarithms, so an empty bin
would make it infinite. A 0.01% floor keeps a bin that empties (or fills from nothing)
loud, about 0.1 per 1% of rows moved, without letting it swamp every other feature."""
STABLE_BELOW = 0.10
DRIFT_FROM = 0.25
"""The usual reading of PSI: under 0.1 the population is stable, 0.1 to 0.25 worth watching,
0.25 and over it has shifted enough that the model's view of it is out of date."""
REFERENCE_FORMAT = 1

Level = Literal["stable", "watch", "drift"]


@dataclass(frozen=True)
class FeatureProfile:
    """One feature's training bins and the share of training rows in each.

    Numeric: `edges` are the inner cut points (bins are right-closed, the first open below
    and the last open above), then one bin for missing values. Categorical: `categories`
    are the kept categories' codes in the layout's vocabulary, then an `other` bin and a
    missing bin (a value the model never saw is missing to the model too, so it lands there).
    """

    name: str
    kind: Literal["numeric", "categorical"]
    shares: tuple[float, ...]
    edges: tuple[float, ...] = ()
    categories: tuple[int, ...] = ()

    def bin_of(self, values: FloatArray) -> npt.NDArray[np.intp]:
        """Each value's bin index."""
        missing = np.isnan(values)
        if self.kind == "numeric":
            bins = np.searchsorted(np.asarray(self.edges), values, side="left")
            return np.where(missing, len(self.edges) + 1, bins).astype(np.intp)
        lookup = {code: i for i, code in enumerate(self.categories)}
        other = len(self.categories)
        found = [
            other + 1 if m else lookup.get(int(v), other)
            for v, m in zip(values.tolist(), missing.tolist(), strict=True)
        ]
        return np.asarray(found, dtype=np.intp)

    @property
    def missing_share(self) -> float:
        """The share of training rows without a value (the last bin)."""
        return self.shares[-1]

    def to_json(self) -> dict[str, Any]:
        """Serialise for metadata.json, shares rounded: six digits is far below any noise."""
        data: dict[str, Any] = {"kind": self.kind, "shares": [round(s, 6) for s in self.shares]}
        if self.kind == "numeric":
            data["edges"] = [float(e) for e in self.edges]
        else:
            data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> FeatureProfile:
        """Rebuild a profile saved by `to_json`."""
        return cls(
            name=name,
            kind=data["kind"],
            shares=tuple(float(s) for s in data["shares"]),
            edges=tuple(float(e) for e in data.get("edges", ())),
            categories=tuple(int(c) for c in data.get("categories", ())),
        )


@dataclass(frozen=True)
class Reference:
    """What a model was trained on, as monitoring compares with it."""

    features: tuple[FeatureProfile, ...]
    state_mix: dict[str, float]
    rows: int

    def to_json(self) -> dict[str, Any]:
        """The `monitoring_reference` entry of metadata.json."""
        return {
            "format": REFERENCE_FORMAT,
            "rows": self.rows,
            "state_mix": {s: round(v, 6) for s, v in self.state_mix.items()},
            "features": {p.name: p.to_json() for p in self.features},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reference:
        """Rebuild a reference; KeyError/ValueError when it is not one this code wrote."""
        if data.get("format") != REFERENCE_FORMAT:
            raise ValueError(f"monitoring reference format {data.get('format')!r} is unknown")
        return cls(
            features=tuple(
                FeatureProfile.from_json(name, entry) for name, entry in data["features"].items()
            ),
            state_mix={s: float(data["state_mix"][s]) for s in STATES},
            rows=int(data["rows"]),
        )


def profile_of(matrix: FloatArray, layout: FeatureLayout) -> tuple[FeatureProfile, ...]:
    """Bins and shares of every column of a design matrix built with `layout`."""
    categorical = set(layout.categorical_positions)
    return tuple(
        _categorical_profile(name, matrix[:, i])
        if i in categorical
        else _numeric_profile(name, matrix[:, i])
        for i, name in enumerate(layout.columns)
    )


def reference_of(
    matrix: FloatArray, shown: npt.NDArray[np.intp], layout: FeatureLayout
) -> Reference:
    """The reference kept with a model: its training rows' profiles, and the mix of the
    states it shows on held-out customers.

    The mix is of states shown, not true labels, because live customers are compared by the
    states shown: the decision rule shows more `intent` and `deciding` than there are, and
    against the labels that would read as drift on the first day.
    """
    return Reference(
        features=profile_of(matrix, layout),
        state_mix=state_mix(np.asarray(shown, dtype=np.intp)),
        rows=len(matrix),
    )


def shares_in(profile: FeatureProfile, values: FloatArray) -> tuple[float, ...]:
    """The share of `values` in each of the profile's bins (all zero when there are none)."""
    counts = np.bincount(profile.bin_of(values), minlength=len(profile.shares))
    total = counts.sum()
    return tuple(float(c) / total if total else 0.0 for c in counts.tolist())


def state_mix(winners: npt.NDArray[np.intp]) -> dict[str, float]:
    """The share of each state, in funnel order, among class indices."""
    counts = np.bincount(winners, minlength=len(STATES))
    total = max(int(counts.sum()), 1)
    return {s: float(c) / total for s, c in zip(STATES, counts.tolist(), strict=True)}


def psi(
    expected: tuple[float, ...] | list[float], actual: tuple[float, ...] | list[float]
) -> float:
    """Population stability index of `actual` shares against `expected` ones, bin by bin.

    Zero when they are equal; symmetric in the two; shares are floored (`SHARE_FLOOR`).
    """
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} expected shares against {len(actual)} actual ones")
    e = np.maximum(np.asarray(expected, dtype=np.float64), SHARE_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def known_psi(profile: FeatureProfile, live: tuple[float, ...]) -> float | None:
    """PSI between the rows that have a value, each side's shares renormalised over them;
    None when either side has no such row.

    How often a value is unknown is compared on its own (`missing_share`): customers known
    from their events always have a contact, while a CRM export holds leads never contacted,
    and counted in the same index that one difference alone reads as drift (about 0.7 for a
    tenth of training rows) although retraining could not remove it.
    """
    expected, actual = profile.shares[:-1], live[:-1]
    expected_total, actual_total = sum(expected), sum(actual)
    if expected_total <= 0 or actual_total <= 0:
        return None
    return psi([e / expected_total for e in expected], [a / actual_total for a in actual])


def level_of(value: float) -> Level:
    """The plain reading of a PSI value (`STABLE_BELOW`, `DRIFT_FROM`)."""
    if value >= DRIFT_FROM:
        return "drift"
    return "watch" if value >= STABLE_BELOW else "stable"


def _numeric_profile(name: str, values: FloatArray) -> FeatureProfile:
    present = values[~np.isnan(values)]
    if len(present):
        quantiles = np.quantile(present, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1])
        # Counts pile up on a few values (most customers have 0 purchases): equal quantiles
        # collapse into one cut rather than leave empty bins between them.
        edges = tuple(float(e) for e in np.unique(quantiles))
    else:
        edges = ()
    profile = FeatureProfile(name, "numeric", shares=(0.0,) * (len(edges) + 2), edges=edges)
    return FeatureProfile(name, "numeric", shares=shares_in(profile, values), edges=edges)


def _categorical_profile(name: str, codes: FloatArray) -> FeatureProfile:
    present = codes[~np.isnan(codes)].astype(np.int64)
    counts = np.bincount(present) if len(present) else np.zeros(0, dtype=np.int64)
    # Most frequent first; ties by code, so the same data always keeps the same categories.
    order = sorted((c for c in range(len(counts)) if counts[c] > 0), key=lambda c: -counts[c])
    kept = tuple(order[:MAX_CATEGORIES])
    profile = FeatureProfile(name, "categorical", shares=(0.0,) * (len(kept) + 2), categories=kept)
    return FeatureProfile(name, "categorical", shares=shares_in(profile, codes), categories=kept)
