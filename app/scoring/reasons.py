"""Reasons: each prediction's strongest signals, as sentences a seller understands.

The numbers are per-feature contributions to the predicted state's raw score
(`training/explain.py`): positive ones pushed the customer towards it, negative ones away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from training.features import COUNT_INPUTS, DERIVED, WINDOW_DAYS

Reason = tuple[str, float | str, float]
"""(feature, value, contribution); the value as a seller reads it (a category by name)."""

_SINGULAR = {
    "visits": "visit",
    "replies": "reply",
    "quotes": "quote",
    "objections": "objection",
    "meetings": "meeting",
    "purchases": "purchase",
}

_TEMPLATES: dict[str, tuple[str, str]] = {
    "days_since_last_contact": ("no contact for {days}", "days"),
    "tenure_days": ("first contact {days} ago", "days"),
    "interactions_total": ("{count} contacts in total", "count"),
    "interactions_30d": ("{count} contacts in the last 30 days", "count"),
    "interactions_90d": ("{count} contacts in the last 90 days", "count"),
    "replies_per_visit": ("{ratio} replies per visit", "ratio"),
    "quotes_per_visit": ("{ratio} quotes per visit", "ratio"),
    "objections_per_quote": ("{ratio} objections per quote", "ratio"),
    "purchases_per_quote": ("{ratio} purchases per quote", "ratio"),
    "objection_share_90d": ("objections were {share} of contacts in the last 90 days", "share"),
    "activity_share_30d": ("{share} of the last 90 days' contacts came in the last 30", "share"),
    "contacts_per_30d": ("{ratio} contacts a month since first contact", "ratio"),
    "days_between_contacts": ("{days} between contacts on average", "days"),
}
"""Feature -> (sentence, the one placeholder in it)."""


_COUNTS: dict[str, tuple[str, str, str]] = {
    f"{name}{suffix}": (_SINGULAR[name], name, where)
    for name in COUNT_INPUTS
    for suffix, where in [("", " in total")]
    + [(f"_{days}d", f" in the last {days} days") for days in WINDOW_DAYS]
}
"""Count feature -> (singular noun, plural noun, time phrase), built once."""


def _clock_features() -> frozenset[str]:
    """Features whose value moves with the clock: a new value on every request."""
    moving: set[str] = set()
    for spec in DERIVED:  # in evaluation order
        if spec.kind == "days_since" or moving.intersection(spec.args):
            moving.add(spec.name)
    return frozenset(moving)


_BY_CLOCK = _clock_features()


def describe(feature: str, value: float | str | None) -> str:
    """Turn one feature value into a short sentence.

    Cached (bounded): counts and categories repeat across customers, and formatting them
    again for every one of a million customers cost more than the model. Values that move
    with the clock almost never repeat; caching them only filled and churned the cache,
    several microseconds a miss, so they are formatted every time.
    """
    if feature in _BY_CLOCK:
        return _sentence(feature, value)
    return _cached_sentence(feature, value)


def _sentence(feature: str, value: float | str | None) -> str:
    if value is None or value != value:  # None or NaN
        return f"{feature.replace('_', ' ')} unknown"
    if isinstance(value, str):
        return f"{feature} is {value}"
    one = 0.5 <= value < 1.5
    count = _COUNTS.get(feature)
    if count is not None:
        return f"{value:.0f} {count[0] if one else count[1]}{count[2]}"
    found = _TEMPLATES.get(feature)
    if found is None:
        return f"{feature} is {value:g}"
    template, slot = found
    if slot == "days":
        shown = "1 day" if one else f"{value:.0f} days"
    elif slot == "count":
        shown = f"{value:.0f}"
        if one:
            template = template.replace("{count} contacts", "{count} contact")
    elif slot == "ratio":
        shown = f"{value:.2f}".rstrip("0").rstrip(".") or "0"
    else:
        shown = f"{value:.0%}"
    return template.replace("{" + slot + "}", shown)


_cached_sentence = lru_cache(maxsize=1 << 16)(_sentence)


def rank_reasons(
    contributions: npt.NDArray[np.float64], known: npt.NDArray[np.bool_], *, limit: int = 3
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Column indices of each row's strongest `limit` signals for and against (-1 = none).

    Inputs the caller did not know are left out: "visits unknown" tells a seller nothing to act on.
    """
    usable = np.where(known, contributions, 0.0)
    order = np.argsort(usable, axis=1, kind="stable")
    towards = order[:, ::-1][:, :limit]
    against = order[:, :limit]
    rows = np.arange(len(usable))[:, None]
    towards = np.where(usable[rows, towards] > 0, towards, -1)
    against = np.where(usable[rows, against] < 0, against, -1)
    return towards, against


def picked_reasons(
    columns: Sequence[str],
    matrix: npt.NDArray[np.float64],
    contributions: npt.NDArray[np.float64],
    picks: npt.NDArray[np.intp],
    categories: Mapping[int, Sequence[str]],
) -> list[list[Reason]]:
    """Each row's picked columns (`rank_reasons`) as (feature, value, contribution).

    `categories` maps a categorical column's position to its vocabulary, so a seller reads
    the category's name, not its code. Picked values are never unknown (`rank_reasons`),
    and a row's -1 picks come last, after its real ones.
    """
    rows = np.arange(len(matrix))[:, None]
    safe = np.maximum(picks, 0)
    shown: npt.NDArray[Any] = matrix[rows, safe]
    if categories:
        shown = shown.astype(object)
        for position, vocabulary in categories.items():
            hit = picks == position
            codes = shown[hit].astype(np.intp)
            shown[hit] = np.asarray(vocabulary, dtype=object)[codes]
    names = np.asarray(columns, dtype=object)[safe]
    width = picks.shape[1]
    picked = list(
        zip(
            names.ravel().tolist(),
            shown.ravel().tolist(),
            contributions[rows, safe].ravel().tolist(),
            strict=True,
        )
    )
    # One flat list sliced per row: cheaper than a zip per row for a million rows.
    return [
        picked[start : start + count]
        for start, count in zip(
            range(0, len(picked), width), (picks >= 0).sum(axis=1).tolist(), strict=True
        )
    ]
