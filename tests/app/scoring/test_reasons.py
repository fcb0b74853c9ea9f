"""Reasons: sentences a seller understands, split into for and against."""

from __future__ import annotations

import numpy as np
import pytest

from app.scoring.reasons import describe, top_reasons


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("objections_30d", 3.0, "3 objections in the last 30 days"),
        ("objections_30d", 1.0, "1 objection in the last 30 days"),
        ("purchases", 0.0, "0 purchases in total"),
        ("days_since_last_contact", 41.4, "no contact for 41 days"),
        ("days_since_last_contact", 1.0, "no contact for 1 day"),
        ("replies_per_visit", 0.5, "0.5 replies per visit"),
        ("objection_share_90d", 0.25, "objections were 25% of contacts in the last 90 days"),
        ("segment", "b2b", "segment is b2b"),
        ("interactions_30d", 1.0, "1 contact in the last 30 days"),
        ("interactions_30d", 4.0, "4 contacts in the last 30 days"),
        ("tenure_days", float("nan"), "tenure days unknown"),
    ],
)
def test_describe_writes_plain_sentences(feature: str, value: float | str, text: str) -> None:
    assert describe(feature, value) == text


def test_top_reasons_splits_by_sign_and_strength() -> None:
    columns = ("a", "b", "c", "d", "e")
    contributions = np.array([0.5, -0.2, 0.0, 1.5, -0.9])
    towards, against = top_reasons(contributions, columns, [1.0] * 5, limit=3)
    assert [r.feature for r in towards] == ["d", "a"]
    assert [r.feature for r in against] == ["e", "b"]


def test_top_reasons_leave_out_unknown_inputs() -> None:
    columns = ("a", "b", "c")
    towards, against = top_reasons(np.array([2.0, 1.0, -1.0]), columns, [None, 3.0, None])
    assert [r.feature for r in towards] == ["b"]
    assert against == []
