"""The cyclic garbage collector's settings for long-running processes.

Scoring makes many short-lived containers (a batch of 1,000 customers: their parsed bodies,
models, answers; a chunk of the nightly run: its documents) and almost no reference cycles:
reference counting frees them. With CPython's default thresholds the collector still walked
them dozens of times per batch: about a tenth of a batch of 1,000's time, by `gc.callbacks`.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 100_000
"""Container allocations (net of frees) between young collections: more than one batch or
chunk keeps alive at once, so a collection runs between them rather than inside them."""


def settle() -> None:
    """After start-up: freeze what is loaded, and collect the young generation rarely.

    What start-up loaded (the libraries, the model) lives as long as the process; frozen, no
    collection walks it again. Cycles still get collected, just later.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
