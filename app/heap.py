"""Memory settings for long-running processes: the garbage collector and the C allocator.

Scoring makes many short-lived containers (a batch of 1,000 customers: their parsed bodies,
models, answers; a chunk of the nightly run: its documents) and almost no reference cycles:
reference counting frees them. With CPython's default thresholds the collector still walked
them dozens of times per batch: about a tenth of a batch of 1,000's time, by `gc.callbacks`.

The nightly run also makes large short-lived arrays (a chunk's work tables, leaf indices).
glibc's malloc serves blocks over 128 KiB from fresh pages and gives them back when freed, so
every such array paid a page fault per 4 KiB page, again and again: a 10,000-row feature
table took almost four times as long as with reused memory. Its processes keep freed memory
(`keep_freed_memory`); the server does not, as each of its threads may get its own malloc
arena, and each arena would keep its own freed memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger("dealnode")

YOUNG_THRESHOLD = 100_000
"""Container allocations (net of frees) between young collections: more than one batch or
chunk keeps alive at once, so a collection runs between them rather than inside them."""

MMAP_THRESHOLD = 64 << 20
"""Blocks below this come from the heap, which keeps freed memory for the next block."""
TRIM_THRESHOLD = 256 << 20
"""Free memory the heap keeps before returning any to the system."""
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def settle() -> None:
    """After start-up: freeze what is loaded, and collect the young generation rarely.

    What start-up loaded (the libraries, the model) lives as long as the process; frozen, no
    collection walks it again. Cycles still get collected, just later.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks for reuse, in a process of one busy thread;
    False where there is no glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        log.debug("no glibc mallopt here; the allocator keeps its defaults")
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
