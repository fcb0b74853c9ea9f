"""Webhook ingestion: sustained signed deliveries through the real HTTP endpoint.

One uvicorn worker; single-event deliveries, then deliveries of 100 events, on SQLite and (when
reachable) PostgreSQL, from 16 senders at once (a CRM sends many deliveries together);
afterwards the event table must hold every event exactly once. Targets (CRM-integration
issue), on PostgreSQL: 500 events/s single, 5,000 events/s in batches of 100.
Run: `.venv/bin/python -m benchmarks.bench_ingest [--events 2000] [--postgres URL]
[--concurrency 16]`.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from benchmarks.bench_http import HOST, server
from benchmarks.common import snapshot_file, timed
from benchmarks.loadgen import build_request, run_each

SECRET = "whsec_" + base64.b64encode(b"benchmark-secret-not-for-prod!!!").decode()
TYPES = ["visit", "reply", "quote", "objection", "meeting", "purchase"]
OUT = Path("benchmarks/out")


def deliveries(total: int, per: int, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    """Signed request bodies, `per` events each, spread over many customers."""
    from standardwebhooks import Webhook

    start = datetime.now(UTC) - timedelta(days=30)
    events = [
        {
            "event_id": f"{tag}-{n}",
            "customer_id": f"{tag}-c{n % 2000}",
            "type": TYPES[n % 6],
            "occurred_at": (start + timedelta(seconds=61 * n)).isoformat(),
        }
        for n in range(total)
    ]
    bodies: list[tuple[bytes, dict[str, str]]] = []
    now = datetime.now(UTC)
    for i in range(0, total, per):
        body = json.dumps(events[i : i + per] if per > 1 else events[i])
        msg_id = f"msg_{tag}_{i}"
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(msg_id, now, body),
        }
        bodies.append((body.encode(), headers))
    return bodies


def measure(url: str, models: Path, events: int, concurrency: int) -> list[str]:
    """Run both delivery sizes against one database; return printable lines."""
    from app.db import make_engine
    from app.migrate import upgrade
    from app.tables import InteractionEvent

    upgrade(url)
    env = {
        "DEALNODE_DATABASE_URL": url,
        "DEALNODE_MODELS_DIR": str(models),
        "DEALNODE_WEBHOOK_SECRETS": json.dumps({"events": [SECRET]}),
    }
    lines = []
    with server("app.main:create_app", env, "/readyz") as port:
        for per, total in ((1, events), (100, events * 10)):
            tag = f"b{per}-{os.getpid()}"
            requests = [
                build_request(HOST, port, "/v1/webhooks/events", body, headers)
                for body, headers in deliveries(total, per, tag)
            ]
            result = run_each(HOST, port, requests, concurrency=concurrency)
            engine = make_engine(url)
            with engine.connect() as connection:
                stored = connection.scalar(
                    select(func.count())
                    .select_from(InteractionEvent)
                    .where(InteractionEvent.event_id.like(f"{tag}-%"))
                )
            engine.dispose()
            rate = total / result.seconds
            once = "yes" if stored == total else "NO"
            lines.append(
                f"{url.split(':')[0].split('+')[0]:<12}{per:>6}{total:>9,}{result.seconds:>9.1f}{rate:>11,.0f}"
                f"{result.percentile(50):>9.1f}{result.errors:>7}{once:>8}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure SQLite, then PostgreSQL if a URL is given or TEST_DATABASE_URL is set."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--concurrency", type=int, default=16, help="senders at once")
    args = parser.parse_args(argv)
    from training.train import TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with timed("train the served model"):
            train(TrainConfig(data=snapshot_file(OUT, 50_000, seed=1), models_dir=tmp / "models"))
        lines = measure(
            f"sqlite:///{tmp / 'ingest.db'}", tmp / "models", args.events, args.concurrency
        )
        if args.postgres:
            from app.db import make_engine

            engine = make_engine(args.postgres)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS dealnode_bench CASCADE"))
                connection.execute(text("CREATE SCHEMA dealnode_bench"))
            engine.dispose()
            sep = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{sep}options=-csearch_path%3Ddealnode_bench"
            lines += measure(url, tmp / "models", args.events, args.concurrency)
    print(
        f"{'database':<12}{'per':>6}{'events':>9}{'seconds':>9}{'events/s':>11}"
        f"{'p50 ms':>9}{'errors':>7}{'once':>8}"
    )
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
