"""The page benchmark keeps running: its seeding and timing on a small SQLite base."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.config import Settings
from app.db import make_engine
from app.web.funnel import read_funnel, read_trend
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
    # Every customer changes state every fifth night of the history before the runs.
    nights = page_seeding.EARLIER_NIGHTS // page_seeding.CHANGING_EVERY
    assert rows.history >= CUSTOMERS * nights
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
        with page_seeding.session_of(engine) as session:
            now = datetime.now(UTC)
            current = read_funnel(session, at_risk_threshold=0.5).per_state
            trend = read_trend(session, now=now, days=90).points
    finally:
        engine.dispose()
    # The history covers the trend's 90 days and chains up to the states now.
    assert len(trend) == 90
    assert sum(trend[-1].per_state.values()) == sum(current.values())
    assert all(n >= 0 for point in trend for n in point.per_state.values())
    assert sum(trend[0].per_state.values()) == CUSTOMERS
