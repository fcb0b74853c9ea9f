"""The collector's settings for long-running processes (`app.heap`)."""

from __future__ import annotations

import gc
import platform
from collections.abc import Iterator

import pytest

from app import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """Put the test process's collector back as it was."""
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_what_is_loaded_and_makes_young_collections_rare() -> None:
    gc.set_threshold(700, 10, 10)
    kept: list[list[int]] = [[] for _ in range(10)]  # loaded before settling: frozen with the rest
    heap.settle()
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 10, 10)
    tracked = (o for generation in range(3) for o in gc.get_objects(generation=generation))
    assert not any(o is kept[0] for o in tracked)  # frozen: no generation holds it
    collections = gc.get_stats()[0]["collections"]
    # More allocations than the default threshold, fewer than ours:
    made: list[dict[str, int]] = [{} for _ in range(5_000)]
    assert gc.get_stats()[0]["collections"] == collections
    assert len(made) == 5_000


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_memory_is_kept_for_reuse_on_glibc() -> None:
    assert heap.keep_freed_memory() is True
