"""Reasons: each prediction's strongest signals, as sentences a seller understands.

The numbers come from LightGBM's TreeSHAP contributions (`pred_contrib`) for the predicted
state: positive ones pushed the customer towards it, negative ones away from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from training.features import COUNT_INPUTS, WINDOW_DAYS

_SINGULAR = {
    "visits": "visit",
    "replies": "reply",
    "quotes": "quote",
    "objections": "objection",
    "meetings": "meeting",
    "purchases": "purchase",
}

_TEMPLATES: dict[str, str] = {
    "days_since_last_contact": "no contact for {days}",
    "tenure_days": "first contact {days} ago",
    "interactions_total": "{count} contacts in total",
    "interactions_30d": "{count} contacts in the last 30 days",
    "interactions_90d": "{count} contacts in the last 90 days",
    "replies_per_visit": "{ratio} replies per visit",
    "quotes_per_visit": "{ratio} quotes per visit",
    "objections_per_quote": "{ratio} objections per quote",
    "purchases_per_quote": "{ratio} purchases per quote",
    "objection_share_90d": "objections were {share} of contacts in the last 90 days",
    "activity_share_30d": "{share} of the last 90 days' contacts came in the last 30",
    "contacts_per_30d": "{ratio} contacts a month since first contact",
    "days_between_contacts": "{days} between contacts on average",
}


@dataclass(frozen=True)
class Reason:
    """One signal behind a prediction."""

    feature: str
    value: float | str | None
    contribution: float
    text: str


def describe(feature: str, value: float | str | None) -> str:
    """Turn one feature value into a short sentence."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f"{feature.replace('_', ' ')} unknown"
    if isinstance(value, str):
        return f"{feature} is {value}"
    for name in COUNT_INPUTS:
        if feature == name:
            return _count(value, name) + " in total"
        for days in WINDOW_DAYS:
            if feature == f"{name}_{days}d":
                return _count(value, name) + f" in the last {days} days"
    template = _TEMPLATES.get(feature)
    if template is None:
        return f"{feature} is {value:g}"
    days_text = "1 day" if round(value) == 1 else f"{value:.0f} days"
    return template.format(
        days=days_text,
        count=f"{value:.0f}",
        ratio=f"{value:.2f}".rstrip("0").rstrip(".") or "0",
        share=f"{value:.0%}",
    )


def _count(value: float, name: str) -> str:
    noun = _SINGULAR[name] if round(value) == 1 else name
    return f"{value:.0f} {noun}"


def top_reasons(
    contributions: npt.NDArray[np.float64],
    columns: tuple[str, ...],
    values: list[float | str | None],
    *,
    limit: int = 3,
) -> tuple[list[Reason], list[Reason]]:
    """Split one row's contributions into the top `limit` for and against the state.

    `contributions` holds one value per column (the bias term already dropped).
    """
    order = np.argsort(contributions)
    towards = [i for i in order[::-1][:limit] if contributions[i] > 0]
    against = [i for i in order[:limit] if contributions[i] < 0]

    def reason(i: int) -> Reason:
        return Reason(
            columns[i], values[i], float(contributions[i]), describe(columns[i], values[i])
        )

    return [reason(int(i)) for i in towards], [reason(int(i)) for i in against]
