"""The playbook: every default rule fires, validation names what is wrong."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from app.config import DEFAULT_PLAYBOOK
from app.scoring.actions import (
    Conditions,
    Playbook,
    PlaybookError,
    Rule,
    Signals,
    load_playbook,
    next_actions,
    signals_from,
)
from app.scoring.results import NextActionView
from training.features import STATES

PLAYBOOK = load_playbook(DEFAULT_PLAYBOOK)
TODAY = date(2026, 11, 24)


def one(
    *,
    open_objection: bool = False,
    objection_kind: str | None = None,
    silent_after_quote: bool = False,
    days_without_contact: float | None = None,
    recent_purchase: bool = False,
    low_confidence: bool = False,
    visits_30d: float = 0.0,
    at_risk: bool = False,
) -> Signals:
    """One customer's signals, as the playbook reads a column of them."""
    return Signals(
        open_objection=np.array([open_objection]),
        objection_kind=[objection_kind],
        silent_after_quote=np.array([silent_after_quote]),
        days_without_contact=np.array(
            [np.nan if days_without_contact is None else days_without_contact]
        ),
        recent_purchase=np.array([recent_purchase]),
        low_confidence=np.array([low_confidence]),
        visits_30d=np.array([visits_30d], dtype=np.float64),
        at_risk=np.array([at_risk]),
    )


QUIET = one(days_without_contact=1.0)


def signals_for(when: Conditions) -> Signals:
    """Signals that satisfy exactly the conditions of `when`, quiet otherwise."""
    return one(
        open_objection=bool(when.open_objection) or when.objection_kind is not None,
        objection_kind=when.objection_kind,
        silent_after_quote=bool(when.silent_after_quote),
        days_without_contact=float(when.min_days_without_contact or 1),
        recent_purchase=bool(when.recent_purchase),
        low_confidence=bool(when.low_confidence),
        visits_30d=float(when.min_visits_30d or 0),
        at_risk=bool(when.at_risk),
    )


def action_for(state: str, signals: Signals) -> NextActionView:
    [action] = next_actions(PLAYBOOK, np.array([STATES.index(state)]), signals, TODAY)
    return action


@pytest.mark.parametrize("rule", PLAYBOOK.rule, ids=lambda r: r.code)
def test_each_playbook_rule_fires_on_its_signals(rule: Rule) -> None:
    """An `any` rule must fire in every state whose own conditional rules stay quiet."""
    for state in STATES if rule.state == "any" else (rule.state,):
        action = action_for(state, signals_for(rule.when))
        assert action["code"] == rule.code, state
        due = date.fromisoformat(action["due_date"])
        assert (due - TODAY).days == rule.due_in_days
        assert action["why"][-1] == rule.why


@pytest.mark.parametrize("state", STATES)
def test_every_state_has_a_default_action(state: str) -> None:
    action = action_for(state, QUIET)
    assert action["code"]
    assert action["title"]


def test_deciding_price_objection_gets_value_analysis_not_generic() -> None:
    signals = signals_for(Conditions(open_objection=True, objection_kind="price"))
    assert action_for("deciding", signals)["code"] == "price_value_analysis"
    trust = signals_for(Conditions(open_objection=True, objection_kind="trust"))
    assert action_for("deciding", trust)["code"] == "resolve_objection_with_manager"


def test_why_names_the_signals_that_fired_with_their_numbers() -> None:
    action = action_for("interested", one(days_without_contact=33.2))
    assert action["code"] == "reengage_with_content"
    assert action["why"][0] == "no contact for 33 days"
    unknown = action_for("interested", one(days_without_contact=None))
    assert unknown["code"] == "discovery_call"  # an unknown silence is not a long one


def test_one_call_for_many_customers_gives_each_its_own_action() -> None:
    """The columnar evaluation must not mix customers up: each row as if it came alone."""
    rng = np.random.default_rng(7)
    n = 300
    kinds = rng.choice(np.array(["price", "after_sales", "trust", None], dtype=object), n)
    rows = [
        {
            "open_objection": bool(rng.random() < 0.4),
            "objection_kind": kinds[i],
            "silent_after_quote": bool(rng.random() < 0.3),
            "days_without_contact": None if rng.random() < 0.1 else float(rng.integers(0, 90)),
            "recent_purchase": bool(rng.random() < 0.3),
            "low_confidence": bool(rng.random() < 0.3),
            "visits_30d": float(rng.integers(0, 4)),
        }
        for i in range(n)
    ]
    states = rng.integers(0, len(STATES), n)
    together = Signals(
        open_objection=np.array([r["open_objection"] for r in rows]),
        objection_kind=[r["objection_kind"] for r in rows],
        silent_after_quote=np.array([r["silent_after_quote"] for r in rows]),
        days_without_contact=np.array(
            [
                np.nan if r["days_without_contact"] is None else r["days_without_contact"]
                for r in rows
            ]
        ),
        recent_purchase=np.array([r["recent_purchase"] for r in rows]),
        low_confidence=np.array([r["low_confidence"] for r in rows]),
        visits_30d=np.array([r["visits_30d"] for r in rows]),
    )
    actions = next_actions(PLAYBOOK, states, together, TODAY)
    alone = [action_for(STATES[s], one(**r)) for s, r in zip(states, rows, strict=True)]
    assert actions == alone
    assert len({a["code"] for a in actions}) >= 8


def test_signals_from_features_reads_silence_after_quote() -> None:
    columns = ("quotes_90d", "days_since_last_contact", "objections_30d")
    matrix = np.array([[1.0, 5.0, 0.0], [1.0, np.nan, 2.0]])
    signals = signals_from(
        columns,
        matrix,
        [None, "price"],
        np.array([0.9, 0.3]),
        low_confidence=0.5,
        quote_silence_days=3,
    )
    assert signals.silent_after_quote.tolist() == [True, False]
    assert signals.open_objection.tolist() == [False, True]
    assert signals.low_confidence.tolist() == [False, True]
    assert np.isnan(signals.days_without_contact[1])


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            '[[rule]]\nstate = "intent"\ncode = "x"\ntitle = "t"\nwhy = "w"\nurgency = "now"\n'
            'channel = "call"\ndue_in_days = 1\n',
            "urgency",
        ),
        (
            '[[rule]]\nstate = "intent"\nwhen = { moon_phase = "full" }\ncode = "x"\ntitle = "t"\n'
            'why = "w"\nurgency = "high"\nchannel = "call"\ndue_in_days = 1\n',
            "moon_phase",
        ),
        ("[[rule]\n", "not valid TOML"),
    ],
)
def test_load_playbook_names_the_bad_field(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "playbook.toml"
    path.write_text(text)
    with pytest.raises(PlaybookError, match=named):
        load_playbook(path)


def test_playbook_without_a_default_for_a_state_is_refused() -> None:
    rules = [r for r in PLAYBOOK.rule if not (r.state == "loyal" and r.when.is_empty())]
    with pytest.raises(ValueError, match="'loyal' has no rule without conditions"):
        Playbook(signals=PLAYBOOK.signals, rule=rules)


def test_at_risk_routes_a_loyal_customer_to_retention_and_only_when_flagged() -> None:
    flagged = one(at_risk=True, recent_purchase=True)
    action = action_for("loyal", flagged)
    assert action["code"] == "retention_call"
    assert action["why"][0] == "at risk of falling back"
    assert action_for("loyal", one(recent_purchase=True))["code"] == "satisfaction_check"
    assert action_for("deciding", flagged)["code"] != "retention_call"


def test_a_model_without_at_risk_never_fires_an_at_risk_rule() -> None:
    signals = one(recent_purchase=True)
    unknown = Signals(**{**signals.__dict__, "at_risk": None})
    assert not unknown.holds(Conditions(at_risk=True)).any()
    assert unknown.holds(Conditions(at_risk=False)).all()
    assert action_for("loyal", unknown)["code"] == "satisfaction_check"
