"""The page benchmark keeps running: its seeding and timing on a small SQLite base."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.db import make_engine
from benchmarks import bench_pages, page_seeding

CUSTOMERS = 200


def test_the_page_benchmark_seeds_a_base_once_and_every_page_answers(
    registry_dir: Path, tmp_path: Path
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'pages.db'}", models_dir=registry_dir)
    rows, found = bench_pages.run(settings, CUSTOMERS, reseed=False, requests=2, warmup=1)

    assert rows.customers == CUSTOMERS
    assert rows.runs == len(page_seeding.SCORED_DAYS_AGO) - 1
    assert rows.dead_deliveries == page_seeding.DEAD_DELIVERIES
    # Every sampled customer has at least its first score in its history.
    sampled = set(range(0, CUSTOMERS, page_seeding.HISTORY_EVERY)) | set(
        page_seeding.opened(CUSTOMERS)
    )
    assert rows.history >= len(sampled)
    assert rows.events > 0
    names = [page.name for page in found]
    assert names[0] == "funnel"
    assert {"customer", "model", "runs (admin)"} <= set(names)
    assert sum(name.startswith("queue") for name in names) == 10
    assert any(name.startswith("csv") for name in names)
    # A page or baseline that answered anything but 200 would have stopped the run.
    assert all(len(page.page_ms) == 2 and len(page.baseline_ms) == 2 for page in found)
    assert len(bench_pages.report(found)) == len(found) + 1

    engine = make_engine(settings.database_url)
    try:
        assert not page_seeding.ensure(engine, settings, CUSTOMERS, reseed=False)
    finally:
        engine.dispose()
