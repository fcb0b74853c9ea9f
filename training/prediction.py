"""The one scoring function: customers' raw inputs as of a time in, a typed prediction out.

The API, the webhooks, the nightly run and offline scoring all come here, so a customer gets
the same probabilities whichever way it is scored. Raw inputs are turned into the model's
matrix with the shared feature module (`features.py`, `design.py`), and one pass over the
trees (`explain.py`) gives both the raw scores and, when asked, each feature's contribution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from operator import itemgetter
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from training import at_risk
from training.artifacts import LoadedModel
from training.design import FeatureLayout, design_array
from training.explain import PathExplainer
from training.features import (
    RAW_COUNT_INPUTS,
    RAW_INPUTS,
    STATES,
    TIME_INPUTS,
    epoch_seconds_of,
    feature_matrix_of_raw,
    raw_values,
)
from training.fitting import calibrate, prediction_threads
from training.table import CustomerTable

FloatArray = npt.NDArray[np.float64]
_COUNTS_OF = itemgetter(*RAW_COUNT_INPUTS)
_TIMES_OF = itemgetter(*TIME_INPUTS)
_NO_EXTRAS: Mapping[str, Any] = {}


ExtraRows = Sequence[Mapping[str, Any]]
"""Extra inputs as requests and stored customers carry them: a mapping per customer."""
ExtraColumns = Mapping[str, npt.NDArray[Any]]
"""Extra inputs as a loaded export holds them: a column per name."""


@dataclass(frozen=True)
class RawInputs:
    """Customers' raw inputs, a row per customer: what every scoring path starts from.

    One (rows x `RAW_INPUTS`) array, times in epoch seconds and NaN for unknown: per-column
    arrays cost a numpy call each, which is most of a single request's time.
    """

    values: FloatArray
    extras: ExtraRows | ExtraColumns
    """The extra inputs by name (the model's layout says which it reads), per customer or,
    from an export, per column: a million rows' mappings cost seconds to build."""

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def of_rows(cls, rows: Sequence[Mapping[str, Any]]) -> RawInputs:
        """From one mapping per customer holding every raw input (times as datetimes)."""
        values = np.array(
            [(*_COUNTS_OF(r), *map(epoch_seconds_of, _TIMES_OF(r))) for r in rows],
            dtype=np.float64,
        ).reshape(len(rows), len(RAW_INPUTS))
        return cls(values, [r.get("extras") or _NO_EXTRAS for r in rows])

    @classmethod
    def of_columns(
        cls, columns: Mapping[str, FloatArray], extras: ExtraRows | ExtraColumns
    ) -> RawInputs:
        """From one float array per raw input, as event aggregation and the database give.

        Stacked input by input, so the array is the transpose of one contiguous block: the
        feature module copies it back into its own column-per-input table in one pass.
        """
        return cls(np.stack([columns[name] for name in RAW_INPUTS]).T, extras)

    @classmethod
    def of_table(cls, table: CustomerTable) -> RawInputs:
        """From a loaded export."""
        extras = {str(name): table.extras[name].to_numpy() for name in table.extras.columns}
        return cls.of_columns(raw_values(table.raw), extras)

    @classmethod
    def joined(cls, parts: Sequence[RawInputs]) -> RawInputs:
        """The customers of every part (each with a mapping per customer), in order."""
        if len(parts) == 1:
            return parts[0]
        extras = [row for part in parts for row in part.extra_rows()]
        return cls(np.vstack([part.values for part in parts]), extras)

    def extra(self, name: str) -> Sequence[Any] | npt.NDArray[Any]:
        """Each customer's extra input `name` (None where it has none)."""
        if isinstance(self.extras, Mapping):
            column = self.extras.get(name)
            return [None] * len(self) if column is None else column
        return [row.get(name) for row in self.extras]

    def extra_rows(self) -> ExtraRows:
        """The extra inputs as a mapping per customer."""
        if isinstance(self.extras, Mapping):
            names = list(self.extras)
            return [
                dict(zip(names, row, strict=True))
                for row in zip(*self.extras.values(), strict=True)
            ]
        return self.extras


@dataclass(frozen=True)
class Predictor:
    """A loaded model and, built from it on first use, its explainer: they always match."""

    model: LoadedModel
    threads: int | None = None
    """Threads for the tree pass; None: one for small batches, every core for large ones."""

    @cached_property
    def explainer(self) -> PathExplainer:
        """The model's leaf tables; a server builds them before it serves (`warmed`)."""
        return PathExplainer(self.model.booster, len(STATES), self.threads)

    @cached_property
    def at_risk_explainer(self) -> PathExplainer | None:
        """The at-risk booster's leaf tables (one raw score: a binary booster); None without."""
        part = self.model.at_risk
        return None if part is None else PathExplainer(part.booster, 1, self.threads)

    @cached_property
    def segment_explainers(self) -> tuple[PathExplainer, ...]:
        """Each segment model's leaf tables, in the family's order (none without segments)."""
        family = self.model.segments
        if family is None:
            return ()
        return tuple(PathExplainer(p.booster, len(STATES), self.threads) for p in family.parts)

    def warmed(self) -> Predictor:
        """This predictor with its explainers built, so no request waits for them."""
        _ = self.explainer, self.at_risk_explainer, self.segment_explainers
        return self


@dataclass(frozen=True)
class MemberRows:
    """The rows one member of a segment family scored, and what explains them."""

    rows: npt.NDArray[np.intp]
    """Positions in the prediction."""
    explainer: PathExplainer
    leaves: npt.NDArray[np.intp]


@dataclass(frozen=True)
class Prediction:
    """What the model says of each customer, a column per field, in the inputs' order."""

    model_version: str
    as_of: datetime
    layout: FeatureLayout
    matrix: FloatArray
    """The design matrix the model read (reasons quote its values)."""
    probabilities: FloatArray
    """Calibrated, a column per state in funnel order."""
    winners: npt.NDArray[np.intp]
    """Each customer's state as the model's decision rule chooses it, an index in `STATES`."""
    explainer: PathExplainer | None
    leaves: npt.NDArray[np.intp] | None
    """The leaf each customer reached in each tree; None when not explained."""
    at_risk: FloatArray | None = None
    """Calibrated chance of falling back a state within the model's horizon; None when the
    model has no at-risk part (`training/at_risk.py`)."""
    at_risk_explainer: PathExplainer | None = None
    at_risk_leaves: npt.NDArray[np.intp] | None = None
    segments: Sequence[str | None] = ()
    """Which segment model scored each customer (None: the global model); empty when the
    model has no segments, so every customer was scored by the global model."""
    members: tuple[MemberRows, ...] = ()
    """For an explained prediction of a segment family: each member's rows and leaves (then
    `explainer` and `leaves` are None: no one booster reached every row)."""

    def __len__(self) -> int:
        return len(self.winners)

    def segment_names(self) -> Sequence[str | None]:
        """Each customer's segment model, None where the global model scored it."""
        return self.segments or [None] * len(self)

    @property
    def states(self) -> list[str]:
        """Each customer's state."""
        return [STATES[w] for w in self.winners.tolist()]

    @cached_property
    def confidence(self) -> FloatArray:
        """The winning state's probability."""
        return self.probabilities[np.arange(len(self.winners)), self.winners]

    @cached_property
    def contributions(self) -> FloatArray:
        """Each feature's raw contribution towards the customer's state.

        Computed when first read, and only for a prediction made with `explained`. A segment
        family's rows are explained by the booster that scored them.
        """
        if self.members:
            found = np.zeros(self.matrix.shape)
            for member in self.members:
                found[member.rows], _ = member.explainer.contributions(
                    member.leaves, self.winners[member.rows]
                )
            return found
        if self.explainer is None or self.leaves is None:
            raise ValueError("this prediction was made without explanations")
        found, _ = self.explainer.contributions(self.leaves, self.winners)
        return found

    @cached_property
    def at_risk_contributions(self) -> FloatArray:
        """Each feature's raw contribution towards being at risk (explained predictions of a
        model with an at-risk part only)."""
        if self.at_risk_explainer is None or self.at_risk_leaves is None:
            raise ValueError("this prediction has no explained at-risk part")
        rows = np.zeros(len(self.at_risk_leaves), dtype=np.intp)
        found, _ = self.at_risk_explainer.contributions(self.at_risk_leaves, rows)
        return found


def design(inputs: RawInputs, as_of: datetime, layout: FeatureLayout) -> FloatArray:
    """The matrix `layout`'s model reads for these customers as of `as_of`."""
    core = feature_matrix_of_raw(inputs.values, epoch_seconds_of(as_of))
    extras = {name: inputs.extra(name) for name in layout.extra_numeric + layout.extra_categorical}
    return design_array(core, extras, layout)


def predict(
    predictor: Predictor, inputs: RawInputs, as_of: datetime, *, explained: bool = True
) -> Prediction:
    """Score every customer in one pass over the trees.

    `explained` keeps the leaves reached, from which the raw scores and every contribution
    follow; without it LightGBM sums the trees itself, as offline scoring of a large file
    wants: a million customers' leaves would take gigabytes.
    """
    model = predictor.model
    matrix = design(inputs, as_of, model.layout)
    explainer, leaves = None, None
    segments: Sequence[str | None] = ()
    members: tuple[MemberRows, ...] = ()
    if model.segments is None:
        explainer = predictor.explainer if explained else None
        if explainer is not None:
            leaves = explainer.leaves(matrix)
            raw = explainer.raw_scores(leaves)
        else:
            raw = _raw_scores(predictor, model.booster, matrix)
        probabilities = calibrate(raw, model.temperature)
    else:
        probabilities, segments, members = _score_family(predictor, inputs, matrix, explained)
    risk_explainer = predictor.at_risk_explainer if explained else None
    risk, risk_leaves = _at_risk(predictor, matrix, risk_explainer)
    return Prediction(
        model_version=model.version,
        as_of=as_of,
        layout=model.layout,
        matrix=matrix,
        probabilities=probabilities,
        winners=model.decision.decide(probabilities),
        explainer=explainer,
        leaves=leaves,
        at_risk=risk,
        at_risk_explainer=risk_explainer,
        at_risk_leaves=risk_leaves,
        segments=segments,
        members=members,
    )


def _score_family(
    predictor: Predictor, inputs: RawInputs, matrix: FloatArray, explained: bool
) -> tuple[FloatArray, list[str | None], tuple[MemberRows, ...]]:
    """A segment family's probabilities: each row scored by the member its value routes it to.

    Every member reads the same matrix, so it is built once; each member's rows are scored
    with its own booster and temperature, and the family's one decision rule then picks the
    state from the merged probabilities. Also each row's segment and, explained, each
    member's rows and leaves. (The at-risk part is the global one for every row.)
    """
    model = predictor.model
    family = model.segments
    assert family is not None
    routes = family.route(inputs.extra(family.column))
    # The global model goes last, so the route GLOBAL (-1) picks it.
    boosters = [*(p.booster for p in family.parts), model.booster]
    temperatures = [*(p.temperature for p in family.parts), model.temperature]
    explainers = [*predictor.segment_explainers, predictor.explainer] if explained else []
    probabilities = np.empty((len(matrix), len(STATES)), dtype=np.float64)
    members: list[MemberRows] = []
    for index in np.unique(routes).tolist():
        rows = np.flatnonzero(routes == index)
        part = matrix[rows]
        if explained:
            leaves = explainers[index].leaves(part)
            raw = explainers[index].raw_scores(leaves)
            members.append(MemberRows(rows, explainers[index], leaves))
        else:
            raw = _raw_scores(predictor, boosters[index], part)
        probabilities[rows] = calibrate(raw, temperatures[index])
    return probabilities, family.names(routes), tuple(members)


def _raw_scores(predictor: Predictor, booster: lgb.Booster, matrix: FloatArray) -> FloatArray:
    """LightGBM's own sum of the trees, for predictions made without explanations."""
    threads = predictor.threads or prediction_threads(len(matrix))
    return np.asarray(booster.predict(matrix, raw_score=True, num_threads=threads), np.float64)


def _at_risk(
    predictor: Predictor, matrix: FloatArray, explainer: PathExplainer | None
) -> tuple[FloatArray | None, npt.NDArray[np.intp] | None]:
    """The at-risk probabilities (None without an at-risk part) and, explained, the leaves."""
    part = predictor.model.at_risk
    if part is None:
        return None, None
    if explainer is not None:
        leaves = explainer.leaves(matrix)
        return at_risk.calibrate(explainer.raw_scores(leaves), part.scale, part.bias), leaves
    threads = predictor.threads or prediction_threads(len(matrix))
    raw = np.asarray(part.booster.predict(matrix, raw_score=True, num_threads=threads))
    return at_risk.calibrate(raw, part.scale, part.bias), None


def predict_table(predictor: Predictor, table: CustomerTable) -> Prediction:
    """Score a loaded export as of its own time; KeyError names an extra input it lacks."""
    layout = predictor.model.layout
    for name in layout.extra_numeric + layout.extra_categorical:
        if name not in table.extras.columns:
            raise KeyError(name)
    when = table.as_of.to_pydatetime()
    return predict(predictor, RawInputs.of_table(table), when, explained=False)
