"""Reasons: sentences a seller understands, split into for and against."""

from __future__ import annotations

import numpy as np
import pytest

from app.scoring.reasons import describe, picked_reasons, rank_reasons


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


def test_rank_reasons_splits_by_sign_and_strength() -> None:
    contributions = np.array([[0.5, -0.2, 0.0, 1.5, -0.9]])
    towards, against = rank_reasons(contributions, np.ones(contributions.shape, dtype=bool))
    assert towards.tolist() == [[3, 0, -1]]
    assert against.tolist() == [[4, 1, -1]]


def test_rank_reasons_leave_out_unknown_inputs() -> None:
    contributions = np.array([[2.0, 1.0, -1.0]])
    towards, against = rank_reasons(contributions, np.array([[False, True, False]]))
    assert towards.tolist() == [[1, -1, -1]]
    assert against.tolist() == [[-1, -1, -1]]


def test_picked_reasons_name_categories_and_stop_at_empty_picks() -> None:
    columns = ("visits_30d", "segment")
    [reasons] = picked_reasons(
        columns,
        np.array([[4.0, 1.0]]),
        np.array([[0.3, -0.1]]),
        np.array([[0, 1, -1]]),
        {1: ("b2b", "b2c")},
    )
    assert reasons == [("visits_30d", 4.0, 0.3), ("segment", "b2c", -0.1)]
