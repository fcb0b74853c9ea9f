"""Live quality: the predictions sellers saw, against the states customers turned out in.

For each customer with a true state observed in the window (its latest one), the prediction
in effect is its latest score-history row at or before the observation: what the service
said about the customer when the truth became known, whichever model said it. History rows
are written on every state change, so the latest one holds the state in effect.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.tables import CustomerScore, ObservedState
from training.features import STATES
from training.metrics import FloatArray, IntArray, expected_calibration_error, state_calibration

IDS_PER_QUERY = 500
MIN_STATE_CUSTOMERS = 20
"""A state's live calibration is measured once this many labelled customers are truly in it,
or the model's percentages for it add up to this many (so a state it keeps predicting that
never turns up is still judged); below, a handful of customers would set the figure. The same
count as the smallest confidence bin the reliability diagram shows."""
_INDEX = {s: i for i, s in enumerate(STATES)}


@dataclass(frozen=True)
class Labelled:
    """The labelled customers of a window with the prediction in effect for each."""

    truth: list[int]
    predicted: list[int]
    probabilities: list[list[float]]
    unscored: int
    """Customers with a true state but no prediction before it (or none for this code's
    states): left out of every figure."""


def labelled_since(session: Session, since: datetime, *, limit: int) -> Labelled:
    """Each customer's latest true state since `since` (of the `limit` newest observations)
    with the prediction in effect when it was observed."""
    o = ObservedState
    rows = session.execute(
        select(o.customer_id, o.state, o.observed_at)
        .where(o.observed_at >= since)
        .order_by(o.observed_at.desc(), o.id.desc())
        .limit(limit)
    ).all()
    latest: dict[str, tuple[str, datetime]] = {}
    for customer_id, state, observed_at in rows:
        latest.setdefault(customer_id, (state, observed_at))
    history = _history(session, sorted(latest))
    truth, predicted, probabilities = [], [], []
    for customer_id, (state, observed_at) in latest.items():
        scores = history.get(customer_id, [])
        at = bisect_right([s[0] for s in scores], observed_at)
        if at == 0 or scores[at - 1][1] not in _INDEX:
            continue
        _, shown, proba = scores[at - 1]
        truth.append(_INDEX[state])
        predicted.append(_INDEX[shown])
        probabilities.append([float(proba.get(s, 0.0)) for s in STATES])
    return Labelled(truth, predicted, probabilities, unscored=len(latest) - len(truth))


def quality_of(labelled: Labelled) -> dict[str, Any]:
    """Per-state precision, recall and support, their macro recall, the ECE, and each state's
    calibration against the rest.

    A precision or recall with nothing to divide by is None, not 0: "never predicted" is
    not "always wrong". Macro recall averages the states that occur among the labels.
    """
    truth = np.asarray(labelled.truth, dtype=np.int64)
    predicted = np.asarray(labelled.predicted, dtype=np.int64)
    proba = np.asarray(labelled.probabilities, dtype=np.float64).reshape(-1, len(STATES))
    per_state: dict[str, dict[str, Any]] = {}
    for i, state in enumerate(STATES):
        hits = int(np.sum((truth == i) & (predicted == i)))
        support = int(np.sum(truth == i))
        shown = int(np.sum(predicted == i))
        per_state[state] = {
            "precision": hits / shown if shown else None,
            "recall": hits / support if support else None,
            "support": support,
        }
    recalls = [v["recall"] for v in per_state.values() if v["recall"] is not None]
    ece = None
    if len(truth):
        ece = expected_calibration_error(truth, proba)
    return {
        "per_state": per_state,
        "macro_recall": float(np.mean(recalls)) if recalls else None,
        "ece": ece,
        "calibration": {s: _calibration(truth, proba, i) for i, s in enumerate(STATES)},
    }


def _calibration(truth: IntArray, proba: FloatArray, state: int) -> dict[str, Any]:
    """One state's calibration, or only its counts when they are too few to judge by."""
    support = int(np.sum(truth == state))
    expected = float(proba[:, state].sum())
    if max(support, expected) < MIN_STATE_CUSTOMERS:
        return {
            "support": support,
            "expected": expected,
            "mean_predicted": None,
            "observed_share": None,
            "calibration_error": None,
            "chance_error": None,
        }
    return {**state_calibration(truth, proba, state), "expected": expected}


def _history(
    session: Session, ids: list[str]
) -> dict[str, list[tuple[datetime, str, dict[str, float]]]]:
    """Each customer's score history, oldest first."""
    found: dict[str, list[tuple[datetime, str, dict[str, float]]]] = {}
    h = CustomerScore
    for start in range(0, len(ids), IDS_PER_QUERY):
        rows = session.execute(
            select(h.customer_id, h.scored_at, h.state, h.probabilities)
            .where(h.customer_id.in_(ids[start : start + IDS_PER_QUERY]))
            .order_by(h.customer_id, h.scored_at, h.id)
        ).all()
        for customer_id, scored_at, state, probabilities in rows:
            found.setdefault(customer_id, []).append((scored_at, state, probabilities))
    return found
