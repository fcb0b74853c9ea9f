"""Read `dealnode train --budget/--trials` here, not with typer's types, so that a typo ends
in the one line naming the option and the value that every other user error gets."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_SECONDS_PER_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """Seconds in `90s`, `5m`, `1h` or a bare `300`; ValueError with the line to show."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(
            f"--budget: cannot read {text!r} as a duration; use e.g. 90s, 5m, 1h or 300 (seconds)"
        )
    seconds = float(match[1]) * _SECONDS_PER_UNIT[match[2]]
    if seconds <= 0:
        raise ValueError(f"--budget: must be more than 0 seconds, not {text!r}")
    return seconds


def parse_trials(text: str) -> int:
    """A whole number of trials, 1 or more; ValueError with the line to show."""
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"--trials: use a whole number of 1 or more, not {text!r}")
    return int(text)
