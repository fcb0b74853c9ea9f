"""The next sales action: a playbook of rules that sales ops edit, checked at start-up.

The model says *where* a customer is; what to *do* about it is sales policy, so it lives in a
TOML playbook rather than in the model or the code. Signals are computed here from the same
feature row the model read.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.scoring.results import NextActionView
from training.features import STATES, CustomerState

ObjectionKind = Literal["price", "after_sales", "trust"]


class Conditions(BaseModel):
    """What must hold for a rule to fire; an empty set makes a state's default rule."""

    model_config = ConfigDict(extra="forbid")

    open_objection: bool | None = None
    objection_kind: ObjectionKind | None = None
    silent_after_quote: bool | None = None
    min_days_without_contact: int | None = Field(default=None, ge=0)
    recent_purchase: bool | None = None
    low_confidence: bool | None = None
    min_visits_30d: int | None = Field(default=None, ge=0)
    at_risk: bool | None = None
    """The at-risk flag (docs/at_risk.md); a model without an at-risk part never sets it."""

    def is_empty(self) -> bool:
        """True for a rule that always fires."""
        return not self.model_dump(exclude_none=True)


class Rule(BaseModel):
    """One playbook line: when a customer in `state` shows these signals, do this."""

    model_config = ConfigDict(extra="forbid")

    state: CustomerState | Literal["any"]
    when: Conditions = Field(default_factory=Conditions)
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    title: str = Field(min_length=1)
    why: str = Field(min_length=1)
    urgency: Literal["high", "medium", "low"]
    channel: Literal["call", "email", "meeting", "message"]
    due_in_days: int = Field(ge=0, le=365)


class SignalSettings(BaseModel):
    """Thresholds that turn features into signals."""

    model_config = ConfigDict(extra="forbid")

    quote_silence_days: int = Field(default=3, ge=0)


class Playbook(BaseModel):
    """The whole playbook; validation guarantees every state has a default action."""

    model_config = ConfigDict(extra="forbid")

    signals: SignalSettings = Field(default_factory=SignalSettings)
    rule: list[Rule]

    @model_validator(mode="after")
    def _every_state_has_a_default(self) -> Playbook:
        for state in STATES:
            if not any(r.state == state and r.when.is_empty() for r in self.rule):
                raise ValueError(f"state {state!r} has no rule without conditions (its default)")
        return self

    def order_for(self, state: str) -> list[int]:
        """Positions in `rule` of the rules tried for `state`, in order: its conditional
        rules, then the `any` rules, then its default."""
        return self._order[state]

    @cached_property
    def _order(self) -> dict[str, list[int]]:
        # Positions, not the rules: a pickled copy (sent to a scoring process) stays right.
        order = {}
        numbered = list(enumerate(self.rule))
        for state in STATES:
            own = [i for i, r in numbered if r.state == state]
            conditional = [i for i in own if not self.rule[i].when.is_empty()]
            defaults = [i for i in own if self.rule[i].when.is_empty()]
            shared = [i for i, r in numbered if r.state == "any"]
            order[state] = conditional + shared + defaults
        return order


class PlaybookError(ValueError):
    """The playbook file cannot be used; the message names the rule and field."""


def load_playbook(path: Path) -> Playbook:
    """Read and validate a playbook file, with an error a sales-ops person can act on."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise PlaybookError(f"playbook {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError(f"playbook {path}: not valid TOML ({exc})") from None
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]).replace("rule.", "rule #", 1)
        raise PlaybookError(f"playbook {path}: {where}: {first['msg']}") from None


@dataclass(frozen=True)
class Signals:
    """What the playbook can test, a column per signal and a row per customer.

    Columns, because the nightly run asks for a million customers' actions at once.
    """

    open_objection: npt.NDArray[np.bool_]
    objection_kind: Sequence[str | None]
    silent_after_quote: npt.NDArray[np.bool_]
    days_without_contact: npt.NDArray[np.float64]
    """NaN when unknown, which never satisfies a minimum."""
    recent_purchase: npt.NDArray[np.bool_]
    low_confidence: npt.NDArray[np.bool_]
    visits_30d: npt.NDArray[np.float64]
    at_risk: npt.NDArray[np.bool_] | None = None
    """Flagged at risk; None: the model has no at-risk part, so no one is."""

    def holds(self, when: Conditions) -> npt.NDArray[np.bool_]:
        """For every customer, whether all of `when` holds."""
        ok = np.ones(len(self.open_objection), dtype=bool)
        flags = [
            (when.open_objection, self.open_objection),
            (when.silent_after_quote, self.silent_after_quote),
            (when.recent_purchase, self.recent_purchase),
            (when.low_confidence, self.low_confidence),
            (when.at_risk, self._at_risk),
        ]
        for wanted, actual in flags:
            if wanted is not None:
                ok &= actual == wanted
        if when.objection_kind is not None:
            ok &= np.array([kind == when.objection_kind for kind in self.objection_kind])
        if when.min_days_without_contact is not None:
            # NaN compares False: an unknown silence never counts as a long one.
            ok &= self.days_without_contact >= when.min_days_without_contact
        if when.min_visits_30d is not None:
            ok &= self.visits_30d >= when.min_visits_30d
        return ok

    @property
    def _at_risk(self) -> npt.NDArray[np.bool_]:
        return np.zeros(len(self.open_objection), bool) if self.at_risk is None else self.at_risk


def signals_from(
    columns: Sequence[str],
    matrix: npt.NDArray[np.float64],
    objection_kinds: Sequence[str | None],
    confidence: npt.NDArray[np.float64],
    *,
    low_confidence: float,
    quote_silence_days: int,
    at_risk: npt.NDArray[np.bool_] | None = None,
) -> Signals:
    """Playbook signals for every row of a design matrix.

    NaN means unknown and never fires: NaN > 0 and NaN >= N are false.
    """

    def column(name: str) -> npt.NDArray[np.float64]:
        if name not in columns:
            return np.full(len(matrix), np.nan)
        return matrix[:, columns.index(name)]

    days = column("days_since_last_contact")
    return Signals(
        open_objection=column("objections_30d") > 0,
        objection_kind=objection_kinds,
        silent_after_quote=(column("quotes_90d") > 0) & (days >= quote_silence_days),
        days_without_contact=days,
        recent_purchase=column("purchases_30d") > 0,
        low_confidence=confidence < low_confidence,
        visits_30d=np.fmax(column("visits_30d"), 0.0),  # unknown counts as none
        at_risk=at_risk,
    )


_FLAG_TEXTS = {
    "open_objection": "open objection in the last 30 days",
    "silent_after_quote": "silent after a quote",
    "recent_purchase": "purchase in the last 30 days",
    "low_confidence": "the model is unsure",
    "at_risk": "at risk of falling back",
}


def _fixed_why(when: Conditions) -> list[str]:
    """The part of a rule's explanation that is the same for every customer it fires for."""
    why = []
    for name, text in _FLAG_TEXTS.items():
        wanted = getattr(when, name)
        if wanted is not None:
            why.append(text if wanted else f"no {text}")
    if when.objection_kind is not None:
        why.append(f"objection about {when.objection_kind.replace('_', '-')}")
    return why


def next_actions(
    playbook: Playbook, states: npt.NDArray[np.intp], signals: Signals, today: date
) -> list[NextActionView]:
    """Each customer's next action (the `NextActionRead` schema, JSON-ready).

    `states` index `STATES`. For each customer the first rule of its state whose conditions
    hold wins (`Playbook.order_for`); every state ends with a default, so one always does.
    A rule whose explanation names no number gives every customer the same object: the
    nightly run builds a million of these.
    """
    rules = playbook.rule
    holds: dict[int, npt.NDArray[np.bool_]] = {}
    chosen = np.empty(len(states), dtype=np.intp)
    for s in sorted(set(states.tolist())):
        undecided = states == s
        # Rules in order, each evaluated at most once for all customers, and only until
        # every customer in the state has its action: one customer costs a rule or two.
        for r in playbook.order_for(STATES[s]):
            if r not in holds:
                holds[r] = signals.holds(rules[r].when)
            hit = undecided & holds[r]
            chosen[hit] = r
            undecided &= ~hit
            if not undecided.any():
                break
    shared: dict[int, NextActionView] = {}
    out: list[NextActionView] = []
    for row, r in enumerate(chosen.tolist()):
        action = shared.get(r)
        if action is None:
            rule = rules[r]
            why = _fixed_why(rule.when)
            varies = False
            if rule.when.min_days_without_contact is not None:
                why.append(f"no contact for {signals.days_without_contact[row]:.0f} days")
                varies = True
            if rule.when.min_visits_30d is not None:
                why.append(f"{signals.visits_30d[row]:.0f} visits in the last 30 days")
                varies = True
            action = {
                "code": rule.code,
                "title": rule.title,
                "why": [*why, rule.why],
                "urgency": rule.urgency,
                "channel": rule.channel,
                "due_date": (today + timedelta(days=rule.due_in_days)).isoformat(),
            }
            if not varies:
                shared[r] = action
        out.append(action)
    return out
