"""The next sales action: a playbook of rules that sales ops edit, checked at start-up.

The model says *where* a customer is; what to *do* about it is sales policy, so it lives in a
TOML playbook rather than in the model or the code. Signals are computed here from the same
feature row the model read.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.features import STATES

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

    def is_empty(self) -> bool:
        """True for a rule that always fires."""
        return not self.model_dump(exclude_none=True)


class Rule(BaseModel):
    """One playbook line: when a customer in `state` shows these signals, do this."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["potential", "interested", "intent", "deciding", "loyal", "any"]
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

    def rules_for(self, state: str) -> list[Rule]:
        """A state's conditional rules, then the `any` rules, then its default."""
        return self._order[state]

    @cached_property
    def _order(self) -> dict[str, list[Rule]]:
        order = {}
        for state in STATES:
            own = [r for r in self.rule if r.state == state]
            conditional = [r for r in own if not r.when.is_empty()]
            defaults = [r for r in own if r.when.is_empty()]
            order[state] = conditional + [r for r in self.rule if r.state == "any"] + defaults
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
    """What the playbook can test, computed from one feature row and its context."""

    open_objection: bool
    objection_kind: str | None
    silent_after_quote: bool
    days_without_contact: float | None
    recent_purchase: bool
    low_confidence: bool
    visits_30d: float

    def fired(self, when: Conditions) -> list[str] | None:
        """The signals that made `when` hold, or None when it does not hold."""
        reasons: list[str] = []
        checks: list[tuple[bool | None, bool, str]] = [
            (when.open_objection, self.open_objection, "open objection in the last 30 days"),
            (when.silent_after_quote, self.silent_after_quote, "silent after a quote"),
            (when.recent_purchase, self.recent_purchase, "purchase in the last 30 days"),
            (when.low_confidence, self.low_confidence, "the model is unsure"),
        ]
        for wanted, actual, text in checks:
            if wanted is None:
                continue
            if wanted != actual:
                return None
            reasons.append(text if actual else f"no {text}")
        if when.objection_kind is not None:
            if when.objection_kind != self.objection_kind:
                return None
            reasons.append(f"objection about {when.objection_kind.replace('_', '-')}")
        if when.min_days_without_contact is not None:
            days = self.days_without_contact
            if days is None or days < when.min_days_without_contact:
                return None
            reasons.append(f"no contact for {days:.0f} days")
        if when.min_visits_30d is not None:
            if self.visits_30d < when.min_visits_30d:
                return None
            reasons.append(f"{self.visits_30d:.0f} visits in the last 30 days")
        return reasons


def signals_from(
    features: dict[str, float],
    *,
    objection_kind: str | None,
    confidence: float,
    low_confidence: float,
    quote_silence_days: int,
) -> Signals:
    """Derive playbook signals from a feature row (NaN means unknown, which never fires)."""

    def value(name: str) -> float:
        v = features.get(name)
        return 0.0 if v is None or v != v else float(v)  # v != v: NaN

    days = features.get("days_since_last_contact")
    known_days = None if days is None or days != days else float(days)
    return Signals(
        open_objection=value("objections_30d") > 0,
        objection_kind=objection_kind,
        silent_after_quote=value("quotes_90d") > 0
        and known_days is not None
        and known_days >= quote_silence_days,
        days_without_contact=known_days,
        recent_purchase=value("purchases_30d") > 0,
        low_confidence=confidence < low_confidence,
        visits_30d=value("visits_30d"),
    )


@dataclass(frozen=True)
class NextAction:
    """The one action to take now, and why."""

    code: str
    title: str
    why: list[str]
    urgency: str
    channel: str
    due_date: date


def next_action(playbook: Playbook, state: str, signals: Signals, today: date) -> NextAction:
    """Pick the first rule for `state` whose conditions hold."""
    for rule in playbook.rules_for(state):
        fired = signals.fired(rule.when)
        if fired is not None:
            return NextAction(
                code=rule.code,
                title=rule.title,
                why=[*fired, rule.why],
                urgency=rule.urgency,
                channel=rule.channel,
                due_date=today + timedelta(days=rule.due_in_days),
            )
    raise RuntimeError(f"playbook has no default rule for {state}")
