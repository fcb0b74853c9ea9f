"""One monitoring report on N stored customers (SQLite): bounded by its sample, whatever N.

Each window reads at most `SAMPLE_LIMIT` customers through the `scored_at` index, so a report
on a million customers should cost about what one on the sample's size does. The floor is the
plainest read of the same number of rows (every column the report reads, no features), so the
ratio says how much the features, bins and PSI add to the reading.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.bench_rescore import OUT, customers, seed_sqlite
from benchmarks.common import best_of, snapshot_file, timed


def main(argv: list[str] | None = None) -> int:
    """Seed each size, then time a report (best of three) and the floor."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, nargs="+", default=[20_000, 200_000])
    args = parser.parse_args(argv)
    from training.train import TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        models = tmp / "models"
        with timed("train the model"):
            train(TrainConfig(data=snapshot_file(OUT, 50_000, seed=1), models_dir=models))
        print(f"{'customers':>10}{'read':>8}{'report s':>10}{'floor s':>9}{'ratio':>7}")
        for n in args.customers:
            measure(n, models, tmp / f"monitor_{n}.db")
    return 0


def measure(n: int, models: Path, path: Path) -> None:
    """Seed `n` customers scored just now into `path`, time a report and the floor, print."""
    from app.db import make_engine, make_sessionmaker
    from app.migrate import upgrade
    from app.monitoring.service import SAMPLE_LIMIT, monitor
    from training import registry
    from training.features import RAW_COUNT_INPUTS, TIME_INPUTS

    model = registry.load(models)
    url = f"sqlite:///{path}"
    upgrade(url)
    frame, _ = customers(n, models)
    now = datetime.now(UTC)
    with timed(f"seed {n:,} customers"):
        seed_sqlite(path, frame)
        with sqlite3.connect(path) as connection:
            connection.execute(
                "UPDATE customer SET scored_at = ?, model_version = ?",
                (now.strftime("%Y-%m-%d %H:%M:%S.%f"), model.version),
            )
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)

    def report() -> int:
        with sessions() as session:
            return monitor(session, model, now=now).windows["30"].customers

    report_s, read = best_of(3, report)
    engine.dispose()
    columns = ", ".join((*RAW_COUNT_INPUTS, *TIME_INPUTS, "inputs_as_of", "state"))
    query = (
        f"SELECT {columns}, model_version, extras FROM customer "
        f"ORDER BY scored_at DESC LIMIT {SAMPLE_LIMIT}"
    )

    def plain_read() -> int:
        with sqlite3.connect(path) as connection:
            return len(connection.execute(query).fetchall())

    floor_s, _ = best_of(3, plain_read)
    floor_s *= 2  # the report reads the sample once per window, so the floor does too
    print(f"{n:>10,}{read:>8,}{report_s:>10.2f}{floor_s:>9.2f}{report_s / floor_s:>7.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
