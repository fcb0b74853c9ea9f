"""A short-lived cache of monitoring reports, so dashboards polling them do not rescan.

One report reads up to tens of thousands of customers; a dashboard refreshing every few
seconds would otherwise repeat that work for numbers that move over days.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
    """Values by key, each kept `ttl_seconds` after it was computed (0: never kept)."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float]) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._values: dict[Hashable, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The kept value for `key`, or a fresh one from `compute` (kept for the next caller).

        Two callers that miss at once may both compute: the work is read-only, and holding
        a lock across it would make every other key wait too.
        """
        now = self.clock()
        with self._lock:
            kept = self._values.get(key)
        if kept is not None and now - kept[0] < self.ttl_seconds:
            return kept[1]
        value = compute()
        if self.ttl_seconds > 0:
            with self._lock:
                self._values = {
                    k: v for k, v in self._values.items() if now - v[0] < self.ttl_seconds
                }
                self._values[key] = (now, value)
        return value
