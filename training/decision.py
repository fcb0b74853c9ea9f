"""Which state to show, given the calibrated probabilities: the decision rule.

The probabilities stay calibrated (a seller reads "62% deciding" and it should mean that); the
state shown is a separate choice. The most probable state is rarely the best one to show: a
rare state such as `deciding` is often the runner-up at 35% behind `intent` at 40%, and a
manager who misses three deciding customers in four pays for it. So the shown state is the
one with the lowest expected cost, `argmin_j sum_i p_i * cost[i][j]`, where `cost[i][j]` is
the cost of showing state `j` to a customer truly in state `i`.

Three rules share that form:
- **most probable**: every mistake costs 1 (plain argmax);
- **fitted weights** (the default): missing a customer of state `i` costs `w_i`, so the rule
  is `argmax_j w_j * p_j`; the weights are fitted on the validation customers to maximise
  macro-F1, so every state is found about as well as the others, and then the buying states
  (`intent`, `deciding`) are raised until at least half of their customers are found, as long
  as at least 35% of those shown in them really are: a seller's day starts with them;
- **cost matrix**: sales ops write the costs themselves (`dealnode train --costs FILE`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from training.errors import DataError
from training.features import STATES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
K = len(STATES)
RuleKind = Literal["most probable", "fitted weights", "cost matrix"]

_LOG_STEPS = np.linspace(-1.5, 1.5, 31)
"""Log-weight moves tried for one state per pass: weights from x0.22 to x4.5 in 10% steps."""
_PASSES = 3
BUYING_STATES = (STATES.index("intent"), STATES.index("deciding"))
RECALL_FLOOR = 0.5
"""Share of the buying states' customers the rule finds on validation, when it can..."""
PRECISION_FLOOR = 0.35
"""...while at least this share of the customers it shows in them are really there."""
_RAISE_STEP = 0.05
_MIN_GAIN = 0.002
"""A weight moves away from 1 only for this much validation macro-F1: smaller gains are noise
on a few hundred customers and would not carry over to new ones."""


@dataclass(frozen=True)
class DecisionRule:
    """A cost matrix (rows: true state, columns: shown state) and how it was chosen."""

    kind: RuleKind
    costs: FloatArray
    weights: FloatArray | None = None
    """For fitted weights: the weight of each state (the cost of missing it)."""

    def decide(self, probabilities: FloatArray) -> npt.NDArray[np.intp]:
        """The shown state of each customer, as its index in `STATES`."""
        expected = probabilities @ self.costs
        return np.asarray(expected.argmin(axis=1), dtype=np.intp)

    def to_json(self) -> dict[str, Any]:
        """The rule as the model's metadata stores it."""
        return {
            "kind": self.kind,
            "costs": self.costs.tolist(),
            "weights": None if self.weights is None else self.weights.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DecisionRule:
        """Read a stored rule; a model from before decision rules shows the most probable."""
        if data is None:
            return MOST_PROBABLE
        costs = np.asarray(data["costs"], dtype=np.float64)
        if costs.shape != (K, K):
            raise ValueError(f"decision costs are {costs.shape}, not {K}x{K}")
        weights = data.get("weights")
        return cls(
            kind=data["kind"],
            costs=costs,
            weights=None if weights is None else np.asarray(weights, dtype=np.float64),
        )


def weighted_rule(weights: FloatArray, kind: RuleKind = "fitted weights") -> DecisionRule:
    """The rule `argmax_j w_j p_j`, written as costs: missing state `i` costs `w_i`."""
    costs = np.repeat(weights[:, None], K, axis=1)
    np.fill_diagonal(costs, 0.0)
    return DecisionRule(kind=kind, costs=costs, weights=weights.copy())


MOST_PROBABLE = weighted_rule(np.ones(K), kind="most probable")


def macro_f1(y_true: IntArray, y_pred: npt.NDArray[np.intp], present: IntArray) -> float:
    """Macro-F1 over the states present in `y_true` (a confusion count, no sklearn call:
    the weight search evaluates it hundreds of times)."""
    confusion = np.bincount(y_true * K + y_pred, minlength=K * K).reshape(K, K)
    hits = np.diag(confusion).astype(np.float64)
    shown = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    denominator = (shown + actual).astype(np.float64)
    f1 = np.divide(2 * hits, denominator, out=np.zeros(K), where=denominator > 0)
    return float(f1[present].mean())


def fit_weights(probabilities: FloatArray, y_true: IntArray) -> DecisionRule:
    """Fit one weight per state on held-out customers: macro-F1 first, then the buying
    states' recall floor, then macro-F1 again among the weights that keep that floor.

    Raising a buying state takes customers from its neighbours; the last step lets their
    weights follow, which wins back part of the macro-F1 the floor cost.
    """
    present = np.unique(y_true)
    log_p = np.log(np.clip(probabilities, 1e-12, 1.0))
    log_w = _ascend(log_p, y_true, present, np.zeros(K), lambda _: True)
    raised = _raise_buying_states(log_p, y_true, log_w)
    if not np.array_equal(raised, log_w):
        floor = {k: _recall(log_p, y_true, raised, k) for k in BUYING_STATES}
        log_w = _ascend(
            log_p,
            y_true,
            present,
            raised,
            lambda w: all(_recall(log_p, y_true, w, k) >= floor[k] for k in floor),
        )
    if np.allclose(log_w, 0.0):
        return MOST_PROBABLE
    return weighted_rule(np.exp(log_w - log_w.mean()))


def _recall(log_p: FloatArray, y_true: IntArray, log_w: FloatArray, state: int) -> float:
    actual = y_true == state
    if not actual.any():
        return 1.0
    return float(((log_p + log_w).argmax(axis=1)[actual] == state).mean())


def _ascend(
    log_p: FloatArray,
    y_true: IntArray,
    present: IntArray,
    log_w: FloatArray,
    keeps: Callable[[FloatArray], bool],
) -> FloatArray:
    """Coordinate ascent of macro-F1 in log space: each pass tries, for each state in turn,
    every move of its weight and keeps the best that `keeps` allows; a few passes settle. A
    move must gain `_MIN_GAIN`, so with no real gain the weights stay where they are."""
    log_w = log_w.copy()
    best = macro_f1(y_true, (log_p + log_w).argmax(axis=1), present)
    for _ in range(_PASSES):
        moved = False
        for state in range(K):
            found, score = None, best + _MIN_GAIN
            for step in _LOG_STEPS:
                trial = log_w.copy()
                trial[state] += step
                value = macro_f1(y_true, (log_p + trial).argmax(axis=1), present)
                if value >= score and keeps(trial):
                    found, score = trial, value
            if found is not None:
                log_w, best, moved = found, score, True
        if not moved:
            break
    return log_w


def _raise_buying_states(log_p: FloatArray, y_true: IntArray, log_w: FloatArray) -> FloatArray:
    """Raise the buying states' weights in small steps, in turn (raising one takes customers
    from the other), until each reaches `RECALL_FLOOR` on validation, never letting a state's
    precision fall under `PRECISION_FLOOR`.

    The weights are chosen on these very customers, so new ones see a little less recall: the
    target carries a margin of three standard errors of a recall measured on this many.
    """
    log_w = log_w.copy()
    states = [k for k in BUYING_STATES if (y_true == k).any()]
    target = {
        k: RECALL_FLOOR + 3.0 * np.sqrt(RECALL_FLOOR * (1 - RECALL_FLOOR) / (y_true == k).sum())
        for k in states
    }
    for _ in range(int(3.0 / _RAISE_STEP) * len(states)):
        moved = False
        for state in states:
            actual = y_true == state
            shown = (log_p + log_w).argmax(axis=1) == state
            if (shown & actual).sum() / actual.sum() >= target[state]:
                continue
            trial = log_w.copy()
            trial[state] += _RAISE_STEP
            shown = (log_p + trial).argmax(axis=1) == state
            if shown.sum() and (shown & actual).sum() / shown.sum() >= PRECISION_FLOOR:
                log_w, moved = trial, True
        if not moved:
            break
    return log_w


def load_costs(path: Path) -> DecisionRule:
    """Read a cost file: a table per true state, a cost per shown state (1 when left out).

    ```toml
    [deciding]          # the customer is really deciding...
    potential = 5       # ...and is shown as potential: five times a plain mistake
    interested = 4
    ```
    """
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"costs {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"costs {path}: not valid TOML ({exc})") from None
    return parse_costs(data, source=f"costs {path.name}")


def parse_costs(data: dict[str, Any], *, source: str = "costs") -> DecisionRule:
    """Check a cost table already read from TOML; DataError names the entry that is wrong."""
    costs = 1.0 - np.eye(K)
    for true_state, row in data.items():
        if true_state not in STATES:
            raise DataError(f"{source}: [{true_state}] is not a state ({', '.join(STATES)})")
        if not isinstance(row, dict):
            raise DataError(f"{source}: [{true_state}] must be a table of shown state = cost")
        for shown, cost in row.items():
            if shown not in STATES:
                raise DataError(
                    f"{source}: [{true_state}] {shown!r} is not a state ({', '.join(STATES)})"
                )
            if isinstance(cost, bool) or not isinstance(cost, int | float):
                raise DataError(f"{source}: [{true_state}] {shown} must be a number")
            if not 0 <= cost < 1e6:
                raise DataError(
                    f"{source}: [{true_state}] {shown} = {cost} must be 0 or more (below 1e6)"
                )
            if shown == true_state and cost != 0:
                raise DataError(f"{source}: [{true_state}] {shown}: a right answer costs 0")
            costs[STATES.index(true_state), STATES.index(shown)] = float(cost)
    return DecisionRule(kind="cost matrix", costs=costs)
