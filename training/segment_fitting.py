"""Fit segment models (`dealnode train --segment-by COLUMN`) next to the global model.

A CRM's industries, regions or teams can buy differently, and one model for all of them may
fit the largest ones best. So the largest values of the column (up to `MAX_SEGMENTS`, as the
CRM suites allow) each get a model of their own, trained like the global one (the same
formulation and parameters) on that segment's training customers and calibrated on its
validation customers. A segment is trained only when it has `MIN_STATE_CUSTOMERS` training
customers in every state the training data has: fewer, and its model would guess at a state.
A trained segment model is used only where its ranked probability score on the segment's
validation customers is lower than the global model's on the same customers: probability
quality, which the decision rule's weights (fitted afterwards, on the family) cannot inflate.
Lower by a margin: the segment model was early-stopped and calibrated on those customers, so
it must win by `WIN_MARGIN_SE` standard errors of the customers' paired differences, not by
luck or by that head start.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training import artifacts
from training.decision import DecisionRule, macro_f1
from training.design import present
from training.errors import DataError
from training.features import STATES
from training.fitting import FittedModel, Formulation, fit_model
from training.metrics import ranked_probability_scores
from training.table import CustomerTable

MAX_SEGMENTS = 10
"""Values of the column that may get a model of their own: the largest in training."""
MIN_STATE_CUSTOMERS = 30
"""Training customers a segment needs in each state of the training data to be trained."""
MIN_VALIDATION_CUSTOMERS = 30
"""Validation customers a segment needs: fewer cannot tell its model from the global one."""
WIN_MARGIN_SE = 2.0
"""How many standard errors of the per-customer RPS differences a segment model must win by."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Parts = tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]
"""Something per split part: training, validation, test."""
_PARTS = ("train", "validation", "test")


@dataclass
class Candidate:
    """One value of the column considered for a model of its own, and what became of it."""

    value: str
    customers: dict[str, int]
    reason: str = ""
    model: FittedModel | None = None
    used: bool = False
    validation_rps: dict[str, float] | None = None
    test_macro_f1: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """What the model's metadata records of the candidate."""
        return {
            "value": self.value,
            "customers": self.customers,
            "trained": self.model is not None,
            "used": self.used,
            "reason": self.reason,
            "validation_ranked_probability_score": self.validation_rps,
            "test_macro_f1": self.test_macro_f1,
        }


@dataclass
class SegmentFit:
    """The candidates of one column, the segment models used, and the values left out."""

    column: str
    candidates: list[Candidate]
    other_values: int
    other_customers: int
    """Training customers of values beyond the `MAX_SEGMENTS` largest."""
    values: Parts = field(repr=False)
    """Each split part's segment value per customer (None where missing)."""

    @property
    def used(self) -> list[Candidate]:
        """The candidates whose model is used, in candidate order."""
        return [c for c in self.candidates if c.used]

    def family_proba(self, part: int, x: pd.DataFrame, global_proba: FloatArray) -> FloatArray:
        """The family's probabilities for split part `part` (0 train, 1 validation, 2 test):
        the global model's, with each used segment's customers scored by its own model."""
        proba = global_proba.copy()
        for candidate in self.used:
            assert candidate.model is not None
            rows = np.flatnonzero(self.values[part] == candidate.value)
            if len(rows):
                proba[rows] = candidate.model.predict_proba(x.iloc[rows].to_numpy(np.float64))
        return proba

    def judge_on_test(
        self, rule: DecisionRule, y_test: IntArray, global_proba: FloatArray, family: FloatArray
    ) -> None:
        """Record each trained segment's test macro-F1, global model against family."""
        for candidate in self.candidates:
            rows = np.flatnonzero(self.values[2] == candidate.value)
            if candidate.model is None or not len(rows):
                continue
            y, states = y_test[rows], np.unique(y_test[rows])
            candidate.test_macro_f1 = {
                "global": macro_f1(y, rule.decide(global_proba[rows]), states),
                "family": macro_f1(y, rule.decide(family[rows]), states),
            }

    def write(self, staging: Path) -> dict[str, Any]:
        """Save the used segment models' boosters; return the metadata's `segments`."""
        models = []
        for n, candidate in enumerate(self.used):
            assert candidate.model is not None
            file = f"{artifacts.SEGMENTS_DIR}/{n}.txt"
            models.append(
                {
                    "value": candidate.value,
                    "booster": artifacts.write_booster(staging, candidate.model.booster, file),
                    "temperature": candidate.model.temperature,
                    "formulation": candidate.model.formulation,
                    "validation": {
                        "customers": candidate.customers["validation"],
                        "ranked_probability_score": candidate.validation_rps,
                    },
                }
            )
        return {
            "column": self.column,
            "max_segments": MAX_SEGMENTS,
            "min_customers_per_state": MIN_STATE_CUSTOMERS,
            "models": models,
            "candidates": [c.to_json() for c in self.candidates],
            "others": {"values": self.other_values, "training_customers": self.other_customers},
        }


def check_column(table: CustomerTable, column: str) -> None:
    """Refuse a column the model does not read as a categorical input (DataError names it)."""
    if column not in table.extra_categorical:
        known = ", ".join(repr(c) for c in table.extra_categorical) or "none"
        raise DataError(
            f"--segment-by {column!r}: not a categorical input of the data "
            f"(categorical inputs: {known})"
        )


def segment_values(
    tables: tuple[CustomerTable, CustomerTable, CustomerTable], column: str
) -> Parts:
    """Each split part's values as text, as the layout encodes them (None where missing)."""
    train, validation, test = (
        np.array([str(v) if present(v) else None for v in t.extras[column]], dtype=object)
        for t in tables
    )
    return train, validation, test


def plan(column: str, values: Parts) -> SegmentFit:
    """The `MAX_SEGMENTS` largest values in training become candidates, ties by name."""
    counts = Counter(v for v in values[0].tolist() if v is not None)
    ranked = sorted(counts, key=lambda v: (-counts[v], v))
    candidates = [
        Candidate(
            value,
            {name: int((part == value).sum()) for name, part in zip(_PARTS, values, strict=True)},
        )
        for value in ranked[:MAX_SEGMENTS]
    ]
    rest = ranked[MAX_SEGMENTS:]
    return SegmentFit(column, candidates, len(rest), sum(counts[v] for v in rest), values)


def fit_segments(
    segments: SegmentFit,
    x: tuple[pd.DataFrame, pd.DataFrame],
    y: tuple[IntArray, IntArray],
    *,
    global_model: FittedModel,
    formulation: Formulation,
    params: dict[str, Any],
    categorical: list[int],
    seed: int,
) -> SegmentFit:
    """Train each candidate that has enough customers; use it where it beats the global model.

    `x` and `y` are the training and validation parts.
    """
    (x_train, x_val), (y_train, y_val) = x, y
    states = np.unique(y_train)
    for candidate in segments.candidates:
        train_rows = np.flatnonzero(segments.values[0] == candidate.value)
        val_rows = np.flatnonzero(segments.values[1] == candidate.value)
        counts = np.bincount(y_train[train_rows], minlength=len(STATES))
        short = [int(s) for s in states if counts[s] < MIN_STATE_CUSTOMERS]
        if short:
            candidate.reason = "not trained, too few training customers in " + ", ".join(
                f"{STATES[s]} ({counts[s]})" for s in short
            )
            candidate.reason += f"; each state needs {MIN_STATE_CUSTOMERS}"
            continue
        if len(val_rows) < MIN_VALIDATION_CUSTOMERS:
            candidate.reason = (
                f"not trained, only {len(val_rows)} validation customers: "
                f"it needs {MIN_VALIDATION_CUSTOMERS} to be compared with the global model"
            )
            continue
        x_seg_val, y_seg_val = x_val.iloc[val_rows], y_val[val_rows]
        model = fit_model(
            x_train.iloc[train_rows],
            y_train[train_rows],
            x_seg_val,
            y_seg_val,
            categorical=categorical,
            seed=seed,
            params=params,
            formulation=formulation,
        )
        matrix = x_seg_val.to_numpy(np.float64)
        by_global = ranked_probability_scores(y_seg_val, global_model.predict_proba(matrix))
        by_segment = ranked_probability_scores(y_seg_val, model.predict_proba(matrix))
        gain = by_global - by_segment
        margin = WIN_MARGIN_SE * float(gain.std(ddof=1) / np.sqrt(len(gain)))
        scores = {
            "global": float(by_global.mean()),
            "segment": float(by_segment.mean()),
            "margin": margin,
        }
        candidate.model, candidate.validation_rps = model, scores
        candidate.used = float(gain.mean()) > margin
        candidate.reason = (
            "used, its own model beats the global model on its validation customers"
            if candidate.used
            else "not used, it does not beat the global model on its validation customers "
            f"by more than {WIN_MARGIN_SE:g} standard errors ({margin:.4f} RPS)"
        )
    return segments


def report_section(segments: SegmentFit) -> str:
    """The report's "Segment models" section, in plain words."""
    lines = [
        "## Segment models",
        "",
        f"Customers were segmented by `{segments.column}`. Its {MAX_SEGMENTS} largest values "
        "in training may each get a model of their own, trained like the global model on that "
        f"segment's customers, when those include at least {MIN_STATE_CUSTOMERS} training "
        "customers in every state. A segment model is used only where it beats the global "
        "model on the segment's validation customers (ranked probability score, RPS: lower is "
        f"better), by more than {WIN_MARGIN_SE:g} standard errors of the customers' "
        "differences, since it was tuned on those customers. Every other customer, including "
        "those whose value is missing or was never seen in training, is scored by the global "
        "model. The figures above are the whole "
        "family's: each test customer scored by the model that scores it in service.",
        "",
        "| segment | customers (train / validation / test) | RPS on validation, global "
        "| RPS, segment model | used | macro-F1 on its test customers, global | family |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for c in segments.candidates:
        n = c.customers
        rps, f1 = c.validation_rps, c.test_macro_f1
        lines.append(
            f"| {c.value} | {n['train']:,} / {n['validation']:,} / {n['test']:,} "
            + (f"| {rps['global']:.4f} | {rps['segment']:.4f} " if rps else "| - | - ")
            + f"| {'yes' if c.used else 'no'} "
            + (f"| {f1['global']:.3f} | {f1['family']:.3f} |" if f1 else "| - | - |")
        )
    lines += ["", *(f"- {c.value}: {c.reason}." for c in segments.candidates)]
    if segments.other_values:
        lines.append(
            f"- {segments.other_values} other values ({segments.other_customers:,} training "
            f"customers) are beyond the {MAX_SEGMENTS} largest: the global model scores them."
        )
    return "\n".join(lines)
