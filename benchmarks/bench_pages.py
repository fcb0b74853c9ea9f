"""The web app's pages on a large base: server time per page against a baseline, same run.

Seeds (or reuses) a base of N customers (`benchmarks/page_seeding.py`), starts the real app
in process (`create_app`, its lifespan, middleware and model), signs in through the sign-in
form with an admin key, and requests every page round-robin: a warm-up, then `--requests`
timed requests each. Each page has a baseline timed in the same rounds: the API endpoint
whose service the page reads (`GET /v1/customers` with the same filters for the queue and its
CSV, `GET /v1/customers/{id}`, `/v1/models/current`, `/v1/runs`), or for the funnel, which
has no API twin, the bare SQL of its two counts. Times are taken around the in-process call,
so they include the ASGI test transport (well under a millisecond).
Target (web-app issue): every page under 200 ms at p95 with 1,000,000 customers on PostgreSQL.
Run: `.venv/bin/python -m benchmarks.bench_pages --database-url URL [--customers 1000000]`.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from app.config import Settings
from benchmarks import page_seeding
from benchmarks.common import snapshot_file, timed

OUT = Path("benchmarks/out")
TARGET_MS = 200.0
CSV_ROWS = 400
"""The one-page CSV export's filter keeps about this many customers (an API page is 500)."""
QUEUE_PAGE = 50
"""The queue page's size, so its API baseline reads as many rows."""
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
Request = Callable[[], None]


@dataclass
class Page:
    """A page and its baseline, with the times each took."""

    name: str
    request: Request
    baseline_name: str
    baseline: Request
    page_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)

    def p(self, percent: float, *, baseline: bool = False) -> float:
        """A percentile of the page's times (or its baseline's), ms."""
        return float(np.percentile(self.baseline_ms if baseline else self.page_ms, percent))


def getter(client: TestClient, paths: list[str], headers: dict[str, str] | None = None) -> Request:
    """A request that GETs the paths in turn and stops the benchmark on anything but 200."""
    turn = itertools.cycle(paths)

    def request() -> None:
        path = next(turn)
        answer = client.get(path, headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:300]}")

    return request


def sign_in(client: TestClient, api_key: str) -> None:
    """Sign in through the form, as a browser does; the client keeps the session cookie."""
    form = client.get("/app/sign-in")
    token = _CSRF.search(form.text)
    if token is None:
        raise SystemExit("the sign-in form has no CSRF token")
    answer = client.post(
        "/app/sign-in",
        data={"api_key": api_key, "csrf_token": token.group(1), "next": "/app"},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed: {answer.status_code}")


def funnel_floor(engine: Engine, threshold: float) -> Request:
    """The funnel's two counts in bare SQL: the floor under the page's main work."""
    per_state = text("SELECT state, count(*) FROM customer WHERE state IS NOT NULL GROUP BY state")
    at_risk = text("SELECT count(*) FROM customer WHERE at_risk >= :threshold")

    def request() -> None:
        with engine.connect() as connection:
            connection.execute(per_state).all()
            connection.execute(at_risk, {"threshold": threshold}).scalar()

    return request


def queue_filters(engine: Engine, n: int) -> list[tuple[str, dict[str, str]]]:
    """The work queue's variants: unfiltered, each filter, the other order, a deep page."""
    from app.customers.service import encode_cursor
    from app.tables import Customer

    with page_seeding.session_of(engine) as session:
        actions = page_seeding.frequencies(session)
        deep = session.execute(
            select(Customer.confidence, Customer.customer_id)
            .where(Customer.confidence.is_not(None))
            .order_by(Customer.confidence.desc(), Customer.customer_id)
            .offset(n // 2)
            .limit(1)
        ).one()
        bar = session.scalar(
            select(Customer.confidence)
            .where(Customer.confidence.is_not(None))
            .order_by(Customer.confidence.desc())
            .offset(min(CSV_ROWS, n - 1))
            .limit(1)
        )
        total = session.scalar(select(func.count()).select_from(Customer)) or 1
    # The rarest action a rep would filter on (at least 1% of the base): the longest walk.
    common = [(code, count) for code, count in actions if count >= total / 100] or actions
    action, share = common[-1]
    return [
        ("queue", {}),
        ("queue state=deciding", {"state": "deciding"}),
        (f"queue action={action} ({share / total:.0%})", {"action": action}),
        ("queue min_confidence=0.8", {"min_confidence": "0.8"}),
        ("queue open_objection", {"open_objection": "true"}),
        ("queue silent_after_quote", {"silent_after_quote": "true"}),
        ("queue at_risk", {"at_risk": "true"}),
        ("queue deciding+objection", {"state": "deciding", "open_objection": "true"}),
        ("queue least_confident", {"sort": "least_confident"}),
        (f"queue page at row {n // 2:,}", {"cursor": encode_cursor(deep[0] or 0.0, deep[1])}),
        ("csv", {"min_confidence": repr(float(bar or 0.0))}),
    ]


def pages(client: TestClient, engine: Engine, settings: Settings, api_key: str) -> list[Page]:
    """Every page with its baseline."""
    n = _customers(engine)
    auth = {"Authorization": f"Bearer {api_key}"}
    found: list[Page] = [
        Page(
            "funnel",
            getter(client, ["/app"]),
            "SQL of its counts",
            funnel_floor(engine, settings.at_risk_threshold),
        ),
    ]
    for name, params in queue_filters(engine, n):
        csv = name == "csv"
        label = f"csv, one page ({params['min_confidence'][:6]}+)" if csv else name
        page = f"/app/queue.csv?{urlencode(params)}" if csv else f"/app/queue?{urlencode(params)}"
        api = urlencode({**params, "limit": settings.page_limit_max if csv else QUEUE_PAGE})
        found.append(
            Page(
                label,
                getter(client, [page]),
                "GET /v1/customers",
                getter(client, [f"/v1/customers?{api}"], auth),
            )
        )
    ids = [quote(page_seeding.customer_id(i), safe="") for i in page_seeding.opened(n)]
    found += [
        Page(
            "customer",
            getter(client, [f"/app/customers/{i}" for i in ids]),
            "GET /v1/customers/{id}",
            getter(client, [f"/v1/customers/{i}" for i in ids], auth),
        ),
        Page(
            "model",
            getter(client, ["/app/models"]),
            "GET /v1/models/current",
            getter(client, ["/v1/models/current"], auth),
        ),
        Page(
            "runs (admin)",
            getter(client, ["/app/runs"]),
            "GET /v1/runs",
            getter(client, ["/v1/runs?limit=20"], auth),
        ),
    ]
    return found


def _customers(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM customer")).scalar() or 0)


def measure(found: list[Page], *, warmup: int, requests: int) -> None:
    """Request every page and baseline once per round, round after round; keep the timed ones."""
    for round_ in range(warmup + requests):
        for page in found:
            for action, times in ((page.request, page.page_ms), (page.baseline, page.baseline_ms)):
                start = time.perf_counter()
                action()
                if round_ >= warmup:
                    times.append((time.perf_counter() - start) * 1000)


def report(found: list[Page]) -> list[str]:
    """The results table, a line per page."""
    width = max(len(page.name) for page in found) + 2
    lines = [
        f"{'page':<{width}}{'p50 ms':>8}{'p95 ms':>8}  {'baseline':<24}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'ratio':>7}  < {TARGET_MS:.0f} ms p95"
    ]
    for page in found:
        ratio = page.p(50) / page.p(50, baseline=True)
        verdict = "PASS" if page.p(95) < TARGET_MS else "FAIL"
        lines.append(
            f"{page.name:<{width}}{page.p(50):>8.1f}{page.p(95):>8.1f}  {page.baseline_name:<24}"
            f"{page.p(50, baseline=True):>8.1f}{page.p(95, baseline=True):>8.1f}{ratio:>7.2f}"
            f"  {verdict}"
        )
    return lines


def trained_models(folder: Path) -> Path:
    """A registry with a promoted model, trained once per folder and reused afterwards."""
    from training.train import TrainConfig, train

    if not (folder / "promoted").exists() and not any(folder.glob("*/metadata.json")):
        with timed("train the model"):
            train(TrainConfig(data=snapshot_file(OUT, 50_000, seed=1), models_dir=folder))
    return folder


def run(
    settings: Settings, n: int, *, reseed: bool, requests: int, warmup: int
) -> tuple[page_seeding.BaseRows, list[Page]]:
    """Seed the base unless it is there already, then time every page; its rows and pages."""
    from app.db import make_engine
    from app.keys.service import create_key
    from app.main import create_app
    from app.migrate import upgrade

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        page_seeding.ensure(engine, settings, n, reseed=reseed)
        with page_seeding.session_of(engine) as session:
            rows = page_seeding.counts(session)
            api_key, _ = create_key(session, scope="admin", name="bench-pages")
            session.commit()
        with TestClient(create_app(settings)) as client:
            sign_in(client, api_key)
            found = pages(client, engine, settings, api_key)
            with timed(f"{warmup} + {requests} rounds of {len(found)} pages and baselines"):
                measure(found, warmup=warmup, requests=requests)
    finally:
        engine.dispose()
    return rows, found


def main(argv: list[str] | None = None) -> int:
    """Seed or reuse the base, time the pages, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first")
    parser.add_argument("--reseed", action="store_true", help="replace a base already there")
    parser.add_argument("--models", type=Path, default=OUT / "page-models", help="a registry")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or TEST_DATABASE_URL) is needed")
    if args.customers < 1 or args.requests < 1 or args.warmup < 0:
        parser.error("--customers and --requests must be at least 1, --warmup at least 0")
    settings = Settings(database_url=args.database_url, models_dir=trained_models(args.models))
    rows, found = run(
        settings, args.customers, reseed=args.reseed, requests=args.requests, warmup=args.warmup
    )
    print(
        f"customers {rows.customers:,}; history rows {rows.history:,}; events {rows.events:,};"
        f" nightly runs {rows.runs}; dead deliveries {rows.dead_deliveries}"
    )
    print(f"{args.requests} timed requests per page after {args.warmup} warm-up; ratio: p50s")
    print("\n".join(report(found)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
