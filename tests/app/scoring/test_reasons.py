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
        ("tenure_days", 0.5, "first contact 1 day ago"),
        ("tenure_days", 1.5, "first contact 2 days ago"),
        ("days_between_contacts", 12.6, "13 days between contacts on average"),
        ("contacts_per_30d", 2.0, "2 contacts a month since first contact"),
        ("contacts_per_30d", 0.125, "0.12 contacts a month since first contact"),
        ("activity_share_30d", 1.0, "100% of the last 90 days' contacts came in the last 30"),
    ],
)
def test_describe_writes_plain_sentences(feature: str, value: float | str, text: str) -> None:
    assert describe(feature, value) == text


def test_values_that_move_with_the_clock_stay_out_of_the_cache() -> None:
    from app.scoring.reasons import _cached_sentence

    _cached_sentence.cache_clear()
    before = _cached_sentence.cache_info().currsize
    for days in np.linspace(3.0, 4.0, 50):  # a new value on every request
        assert describe("days_since_last_contact", float(days)) in {
            "no contact for 3 days",
            "no contact for 4 days",
        }
        describe("contacts_per_30d", float(days))
    assert _cached_sentence.cache_info().currsize == before
    describe("objections", 7919.0)  # counts repeat: cached
    assert _cached_sentence.cache_info().currsize == before + 1


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
