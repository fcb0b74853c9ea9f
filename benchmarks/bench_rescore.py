"""Nightly rescoring at scale: the real `dealnode rescore` against a floor, in the same run.

Seeds N simulated customers into SQLite and PostgreSQL as the previous night left them
(stored inputs, and the state the model gave them then), then rescores them `--days` later
(default 1: the nightly cadence) and times, for the same rows:
- the floor: read the inputs in one go (COPY on PostgreSQL, one SELECT on SQLite), build the
  features and call `Booster.predict`, write state and probabilities back in one go (COPY,
  or one executemany): no reasons, no actions, no history, no chunks;
- `dealnode rescore` as a separate command, from start-up to exit, with the peak of the
  resident memory of it and its scoring workers together (sampled every 50 ms).
Targets (nightly-rescoring issue), 1,000,000 customers: end-to-end at least 0.4 x the
floor's rows/s on each database; peak RSS at most 1.3 x the peak at 100,000.
Run: `.venv/bin/python -m benchmarks.bench_rescore [--customers 100000 1000000] [--postgres URL]`.
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text

from benchmarks.common import snapshot_file, timed
from training.artifacts import LoadedModel
from training.design import design_array
from training.features import (
    RAW_COUNT_INPUTS,
    RAW_INPUTS,
    STATES,
    TIME_INPUTS,
    feature_matrix,
    raw_values,
)

OUT = Path("benchmarks/out")
SCHEMA = "dealnode_bench_rescore"
_SEED_COLUMNS = (
    "customer_id",
    "shard_key",
    *RAW_INPUTS,
    "inputs_as_of",
    "extras",
    "state",
    "created_at",
    "updated_at",
    "row_version",
    "latest_score",
)


@dataclass
class Measured:
    """One database at one size."""

    database: str
    rows: int
    changes: int
    floor_s: float
    rescore_s: float
    peak_rss_mib: float


def customers(n: int, models: Path) -> tuple[pd.DataFrame, pd.Timestamp]:
    """N simulated customers as `customer` rows, as the previous night's run left them."""
    from app.tables import shard_key
    from training import registry

    snapshot = pd.read_parquet(snapshot_file(OUT, n))
    as_of = pd.Timestamp(snapshot["as_of"].iloc[0])
    states = _predict(registry.load(models), snapshot.copy(), as_of)["state"].to_numpy()
    frame = snapshot[["customer_id", *RAW_INPUTS]].copy()
    for name in RAW_COUNT_INPUTS:
        frame[name] = frame[name].astype("Int64")
    frame.insert(1, "shard_key", [shard_key(c) for c in frame["customer_id"]])
    frame["inputs_as_of"] = as_of
    frame["extras"] = [f'{{"segment": "{s}"}}' for s in snapshot["segment"]]
    frame["state"] = states
    frame["created_at"] = as_of
    frame["updated_at"] = as_of
    frame["row_version"] = 1
    frame["latest_score"] = previous_score(models, snapshot.iloc[:1], as_of)
    return frame[list(_SEED_COLUMNS)], as_of


def previous_score(models: Path, first: pd.DataFrame, as_of: pd.Timestamp) -> str:
    """A real stored score document, given to every customer: the night's write replaces it,
    and what that costs depends on the document's size, not on whose it is."""
    import orjson

    from app.config import DEFAULT_PLAYBOOK
    from app.scoring.actions import load_playbook
    from app.scoring.advice import Advisor
    from app.scoring.serving import ServingModel
    from training.prediction import RawInputs

    serving = ServingModel(models)
    serving.activate()
    advisor = Advisor(load_playbook(DEFAULT_PLAYBOOK), low_confidence=0.45)
    row = first.iloc[0]
    inputs = {name: None if pd.isna(row[name]) else row[name] for name in RAW_INPUTS}
    inputs["extras"] = {"segment": row["segment"]}
    scores = advisor.score(
        serving.predictor, RawInputs.of_rows([inputs]), [None], as_of=as_of.to_pydatetime()
    )
    [document] = scores.documents()
    return orjson.dumps(document).decode()


def seed_postgres(url: str, frame: pd.DataFrame) -> None:
    """Load the rows with COPY into a freshly migrated schema."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    with _connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("TRUNCATE customer CASCADE")
        columns = ", ".join(_SEED_COLUMNS)
        with cursor.copy(f"COPY customer ({columns}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        cursor.execute("ANALYZE customer")


def seed_sqlite(path: Path, frame: pd.DataFrame) -> None:
    """Load the rows with one executemany, times in SQLAlchemy's SQLite text format."""
    rows = frame.copy()
    for name in (*TIME_INPUTS, "inputs_as_of", "created_at", "updated_at"):
        times = pd.to_datetime(rows[name], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        rows[name] = times.astype(object).where(times.notna(), None)
    values = rows.astype(object).where(rows.notna(), None).itertuples(index=False, name=None)
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM customer")
        marks = ", ".join("?" * len(_SEED_COLUMNS))
        connection.executemany(
            f"INSERT INTO customer ({', '.join(_SEED_COLUMNS)}) VALUES ({marks})", values
        )


def floor(database: str, url: str, model: LoadedModel, as_of: pd.Timestamp) -> float:
    """Read, predict, write the same rows with the plainest fast code; seconds."""
    segment = (
        "extras::json->>'segment'"
        if database == "postgresql"
        else "json_extract(extras, '$.segment')"
    )
    names = ["customer_id", *RAW_INPUTS, "segment"]
    select = (
        f"SELECT customer_id, {', '.join(RAW_INPUTS)}, {segment} FROM customer ORDER BY customer_id"
    )
    start = time.perf_counter()
    if database == "postgresql":
        with _connect(url) as connection, connection.cursor() as cursor:
            buffer = io.BytesIO()
            with cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy:
                for block in copy:
                    buffer.write(block)
            buffer.seek(0)
            raw = pd.read_csv(buffer, names=names)
            scores = _predict(model, raw, as_of)
            out = io.StringIO()
            scores.to_csv(out, index=False, header=False)
            cursor.execute("DROP TABLE IF EXISTS floor_score")
            cursor.execute(_floor_table())
            with cursor.copy("COPY floor_score FROM STDIN (FORMAT csv)") as copy:
                copy.write(out.getvalue())
    else:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            rows = connection.execute(select).fetchall()
            raw = pd.DataFrame.from_records(rows, columns=names)
            scores = _predict(model, raw, as_of)
            connection.execute("DROP TABLE IF EXISTS floor_score")
            connection.execute(_floor_table())
            marks = ", ".join("?" * len(scores.columns))
            connection.executemany(
                f"INSERT INTO floor_score VALUES ({marks})",
                scores.itertuples(index=False, name=None),
            )
    return time.perf_counter() - start


def _predict(model: LoadedModel, raw: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    for name in TIME_INPUTS:
        raw[name] = pd.to_datetime(raw[name], utc=True, format="ISO8601")
    core = feature_matrix(raw_values(raw), as_of.timestamp())
    extras = {"segment": raw["segment"].tolist()}
    proba = np.asarray(model.booster.predict(design_array(core, extras, model.layout)))
    frame = pd.DataFrame(proba, columns=[f"p_{s}" for s in STATES])
    frame.insert(0, "confidence", proba.max(axis=1))
    frame.insert(0, "state", np.asarray(STATES)[proba.argmax(axis=1)])
    frame.insert(0, "customer_id", raw["customer_id"].to_numpy())
    return frame


def _floor_table() -> str:
    probabilities = ", ".join(f"p_{s} FLOAT" for s in STATES)
    return (
        "CREATE TABLE floor_score (customer_id VARCHAR(128), state VARCHAR(16),"
        f" confidence FLOAT, {probabilities})"
    )


def rescore(url: str, models: Path, as_of: pd.Timestamp, options: list[str]) -> tuple[float, float]:
    """Run `dealnode rescore` in its own process; wall seconds and peak RSS in MiB."""
    env = {
        **os.environ,
        "DEALNODE_DATABASE_URL": url,
        "DEALNODE_MODELS_DIR": str(models),
    }
    command = [
        sys.executable,
        "-m",
        "app.cli.main",
        "rescore",
        "--as-of",
        as_of.isoformat(),
        *options,
    ]
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        if process.returncode != 0:
            log.seek(0)
            raise SystemExit(f"dealnode rescore failed:\n{log.read().decode()[-2000:]}")
    return seconds, peak / 1024


def tree_rss(pid: int) -> int:
    """Resident KiB of a process and all its descendants (its scoring workers), now."""
    total, todo = 0, [pid]
    while todo:
        here = Path(f"/proc/{todo.pop()}")
        try:
            status = (here / "status").read_text()
            total += next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
            )
            for task in (here / "task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue  # ended while we looked
    return total


def run_record(url: str) -> tuple[int, int]:
    """The run's rows scored and state changes, from its record."""
    from app.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        rows, changes = connection.execute(
            text(
                "SELECT rows_scored, state_changes FROM scoring_run WHERE status = 'succeeded'"
                " ORDER BY started_at DESC LIMIT 1"
            )
        ).one()
    engine.dispose()
    return int(rows), int(changes)


def measure(
    database: str, url: str, models: Path, n: int, options: list[str], days: int
) -> Measured:
    """Seed, floor, rescore for one database and size."""
    from app.migrate import upgrade
    from training import registry

    upgrade(url)
    frame, seeded_at = customers(n, models)
    with timed(f"seed {n:,} customers into {database}"):
        if database == "postgresql":
            seed_postgres(url, frame)
        else:
            seed_sqlite(Path(url.removeprefix("sqlite:///")), frame)
    del frame
    as_of = seeded_at + timedelta(days=days)
    floor_s = floor(database, url, registry.load(models), as_of)
    rescore_s, rss = rescore(url, models, as_of, options)
    rows, changes = run_record(url)
    if rows != n:
        raise SystemExit(f"{database}: the run scored {rows:,} of {n:,} customers")
    measured = Measured(database, n, changes, floor_s, rescore_s, rss)
    print(f"  {measured}", flush=True)  # the table comes at the end; this survives a failure
    return measured


def _connect(url: str) -> Any:
    """A psycopg connection for the SQLAlchemy URL, keeping its search_path option."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = parsed.query.get("options")
    base = parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    if isinstance(options, str):
        return psycopg.connect(base, options=options)
    return psycopg.connect(base)


def _postgres_schema(url: str) -> str:
    from app.db import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{SCHEMA}"


def main(argv: list[str] | None = None) -> int:
    """Measure each size on SQLite, then on PostgreSQL when a URL is given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="dealnode rescore --workers")
    parser.add_argument("--days", type=int, default=1, help="rescore this long after seeding")
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    from training.train import TrainConfig, train

    options = ["--chunk-size", str(args.chunk_size), "--workers", str(args.workers)]
    print(f"dealnode rescore {' '.join(options)}")

    results: list[Measured] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        models = tmp / "models"
        with timed("train the model"):
            train(TrainConfig(data=snapshot_file(OUT, 50_000, seed=1), models_dir=models))
        databases: list[tuple[str, str]] = []
        if not args.no_sqlite:
            databases.append(("sqlite", ""))
        if args.postgres:
            databases.append(("postgresql", _postgres_schema(args.postgres)))
        for database, base in databases:
            for n in args.customers:
                url = base or f"sqlite:///{tmp / f'rescore_{n}.db'}"
                results.append(measure(database, url, models, n, options, args.days))
                if database == "sqlite":
                    Path(url.removeprefix("sqlite:///")).unlink()
    _report(results)
    return 0


def _report(results: list[Measured]) -> None:
    print(
        f"{'database':<12}{'customers':>11}{'changes':>9}{'floor s':>9}{'floor rows/s':>14}"
        f"{'rescore s':>11}{'rows/s':>10}{'ratio':>7}{'peak RSS MiB':>14}"
    )
    for m in results:
        floor_rate, rate = m.rows / m.floor_s, m.rows / m.rescore_s
        print(
            f"{m.database:<12}{m.rows:>11,}{m.changes:>9,}{m.floor_s:>9.1f}{floor_rate:>14,.0f}"
            f"{m.rescore_s:>11.1f}{rate:>10,.0f}{rate / floor_rate:>7.2f}{m.peak_rss_mib:>14,.0f}"
        )
    for database in dict.fromkeys(m.database for m in results):
        mine = sorted((m for m in results if m.database == database), key=lambda m: m.rows)
        big = mine[-1]
        ratio = (big.rows / big.rescore_s) / (big.rows / big.floor_s)
        print(
            f"{database}: rescore/floor at {big.rows:,}: {ratio:.2f} "
            f"(target >= 0.40: {'PASS' if ratio >= 0.4 else 'FAIL'})"
        )
        if len(mine) > 1:
            grow = big.peak_rss_mib / mine[0].peak_rss_mib
            print(
                f"{database}: peak RSS {big.rows:,} / {mine[0].rows:,}: {grow:.2f} "
                f"(target <= 1.30: {'PASS' if grow <= 1.3 else 'FAIL'})"
            )


if __name__ == "__main__":
    raise SystemExit(main())
