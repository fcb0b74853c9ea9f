"""Bounded polling, for what another thread or process makes true a moment later."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    probe: Callable[[], T | None],
    what: str | Callable[[], str],
    *,
    seconds: float = 30.0,
    every: float = 0.05,
) -> T:
    """Ask `probe` every `every` seconds and return its first answer that is neither None nor
    False; after `seconds`, fail naming `what` (a callable is asked then, to report the latest
    state), so a hang fails the test instead of stalling the suite."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            message = what if isinstance(what, str) else what()
            raise AssertionError(f"not within {seconds:g} s: {message}")
        time.sleep(every)
