"""The playbook: every default rule fires, validation names what is wrong."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.config import DEFAULT_PLAYBOOK
from app.scoring.actions import (
    Conditions,
    Playbook,
    PlaybookError,
    Rule,
    Signals,
    load_playbook,
    next_action,
    signals_from,
)
from training.features import STATES

PLAYBOOK = load_playbook(DEFAULT_PLAYBOOK)
TODAY = date(2026, 11, 24)
QUIET = Signals(
    open_objection=False,
    objection_kind=None,
    silent_after_quote=False,
    days_without_contact=1.0,
    recent_purchase=False,
    low_confidence=False,
    visits_30d=0.0,
)


def signals_for(when: Conditions) -> Signals:
    """Signals that satisfy exactly the conditions of `when`, quiet otherwise."""
    return Signals(
        open_objection=bool(when.open_objection) or when.objection_kind is not None,
        objection_kind=when.objection_kind,
        silent_after_quote=bool(when.silent_after_quote),
        days_without_contact=float(when.min_days_without_contact or 1),
        recent_purchase=bool(when.recent_purchase),
        low_confidence=bool(when.low_confidence),
        visits_30d=float(when.min_visits_30d or 0),
    )


@pytest.mark.parametrize("rule", PLAYBOOK.rule, ids=lambda r: r.code)
def test_each_playbook_rule_fires_on_its_signals(rule: Rule) -> None:
    """An `any` rule must fire in every state whose own conditional rules stay quiet."""
    for state in STATES if rule.state == "any" else (rule.state,):
        action = next_action(PLAYBOOK, state, signals_for(rule.when), TODAY)
        assert action.code == rule.code, state
        assert (action.due_date - TODAY).days == rule.due_in_days
        assert rule.why in action.why


@pytest.mark.parametrize("state", STATES)
def test_every_state_has_a_default_action(state: str) -> None:
    action = next_action(PLAYBOOK, state, QUIET, TODAY)
    assert action.code
    assert action.title


def test_deciding_price_objection_gets_value_analysis_not_generic() -> None:
    signals = signals_for(Conditions(open_objection=True, objection_kind="price"))
    assert next_action(PLAYBOOK, "deciding", signals, TODAY).code == "price_value_analysis"
    trust = signals_for(Conditions(open_objection=True, objection_kind="trust"))
    assert next_action(PLAYBOOK, "deciding", trust, TODAY).code == "resolve_objection_with_manager"


def test_signals_from_features_reads_silence_after_quote() -> None:
    features = {"quotes_90d": 1.0, "days_since_last_contact": 5.0, "objections_30d": 0.0}
    signals = signals_from(
        features, objection_kind=None, confidence=0.9, low_confidence=0.5, quote_silence_days=3
    )
    assert signals.silent_after_quote
    assert not signals.open_objection
    unknown = signals_from(
        {"days_since_last_contact": float("nan")},
        objection_kind=None,
        confidence=0.3,
        low_confidence=0.5,
        quote_silence_days=3,
    )
    assert unknown.days_without_contact is None
    assert unknown.low_confidence


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
