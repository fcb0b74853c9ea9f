"""What parsed but cannot be scored: inputs that contradict each other, or the model.

The schema checks each value alone; these checks look at a customer's values together
(a window's count above the lifetime count, a last contact before the first, a contact in
the future) and at what the model knows (its extra inputs). They run on the raw inputs'
array, a column at a time: per customer in Python they were a tenth of a batch of 1,000.
The first customer with a problem is named, with the field to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from app.errors import InvalidInput
from app.scoring.schemas import CustomerRequest
from training.artifacts import LoadedModel
from training.features import COUNT_INPUTS, RAW_INPUTS, TIME_INPUTS, WINDOW_DAYS, epoch_seconds_of

CLOCK_SKEW = timedelta(minutes=5)
"""Clients' clocks run a little ahead; more than this is an error, not skew."""

_COLUMN = {name: i for i, name in enumerate(RAW_INPUTS)}


def _order_rules() -> list[tuple[str, str, str]]:
    """(smaller, larger, the one named when broken): values that must not exceed another."""
    rules = [("first_contact_at", "last_contact_at", "last_contact_at")]
    for name in COUNT_INPUTS:
        windows = [f"{name}_{days}d" for days in WINDOW_DAYS]  # shortest first
        rules += [(window, name, window) for window in windows]
        rules += [(shorter, longer, longer) for shorter, longer in pairwise(windows)]
    return rules


_RULES = _order_rules()
_SMALLER = np.array([_COLUMN[small] for small, _, _ in _RULES])
_LARGER = np.array([_COLUMN[large] for _, large, _ in _RULES])
_TIMES = np.array([_COLUMN[name] for name in TIME_INPUTS])

Found = tuple[int, InvalidInput]
"""A customer's position and what is wrong with it."""


def check_inputs(
    items: Sequence[CustomerRequest],
    raw: npt.NDArray[np.float64],
    model: LoadedModel,
    as_of: datetime,
    prefix: str = "",
) -> None:
    """Raise InvalidInput naming the first customer that cannot be scored, and its field.

    `raw` is `raw_inputs` of the items; `prefix` (say "customers.") names a batch's items
    by position, and none names a single customer.
    """

    def where(row: int) -> str:
        return f"{prefix}{row}." if prefix else ""

    found = [
        _consistency(raw, as_of, where),
        _extras(items, model, where),
        _repeated_ids(items, where),
    ]
    first = min((f for f in found if f is not None), key=lambda f: f[0], default=None)
    if first is not None:
        raise first[1]


def _consistency(
    raw: npt.NDArray[np.float64], as_of: datetime, where: Callable[[int], str]
) -> Found | None:
    # NaN (not given) compares false, so a missing value never breaks a rule. A handful of
    # numpy calls whatever the batch's size: a single prediction pays them too.
    broken = raw[:, _SMALLER] > raw[:, _LARGER]
    future = raw[:, _TIMES] > epoch_seconds_of(as_of + CLOCK_SKEW)
    if not broken.any() and not future.any():
        return None
    row = int(np.argmax(broken.any(axis=1) | future.any(axis=1)))
    at = where(row)
    if broken[row].any():
        small, large, named = _RULES[int(np.argmax(broken[row]))]
        field = at + named
        if small in TIME_INPUTS:
            return row, InvalidInput(f"{field} is before {small}", field=field)
        low, high = raw[row, _COLUMN[small]], raw[row, _COLUMN[large]]
        if named == small:
            message = f"{field} ({low:.0f}) exceeds {large} ({high:.0f})"
        else:
            message = f"{field} ({high:.0f}) is below {small} ({low:.0f})"
        return row, InvalidInput(message, field=field)
    name = TIME_INPUTS[int(np.argmax(future[row]))]
    return row, InvalidInput(f"{at}{name} is after as_of (in the future)", field=at + name)


def _extras(
    items: Sequence[CustomerRequest], model: LoadedModel, where: Callable[[int], str]
) -> Found | None:
    numeric = set(model.layout.extra_numeric)
    known = numeric | set(model.layout.extra_categorical)
    for row, item in enumerate(items):
        for key, value in item.extras.items():
            field = f"{where(row)}extras.{key}"
            if key not in known:
                allowed = ", ".join(sorted(known)) or "none"
                message = f"{field}: this model has no such input (it knows: {allowed})"
                return row, InvalidInput(message, field=field)
            if key in numeric and isinstance(value, str):
                return row, InvalidInput(f"{field} must be a number", field=field)
    return None


def _repeated_ids(items: Sequence[CustomerRequest], where: Callable[[int], str]) -> Found | None:
    ids = [item.customer_id for item in items if item.customer_id is not None]
    if len(set(ids)) == len(ids):
        return None
    seen: set[str] = set()
    for row, item in enumerate(items):
        if item.customer_id in seen:
            field = where(row) + "customer_id"
            return row, InvalidInput(f"{field} {item.customer_id!r} appears twice", field=field)
        if item.customer_id is not None:
            seen.add(item.customer_id)
    return None
