"""HTTP benchmark: the real API against a bare FastAPI endpoint, in the same run.

Starts `app.main:create_app` (one uvicorn worker, SQLite, a model trained here) and
`benchmarks.bare_app` (same JSON body, constant answer) side by side, drives both from one client
process at concurrency 1 and 16 in alternating rounds (the best round of each is kept), and
times batches of 1,000. Targets (service issue): predict without
storing >= 50% of the bare endpoint's requests/s, p99 < 25 ms at concurrency 16, batch p50 < 50 ms.
Run: `.venv/bin/python -m benchmarks.bench_http [--seconds 8] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import snapshot_file, timed
from benchmarks.loadgen import LoadResult, build_request, run_load

OUT = Path("benchmarks/out")
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(
    target: str, env: dict[str, str], ready_path: str, log_dir: Path | None = None
) -> Iterator[int]:
    """Run one uvicorn worker serving `target` until the block ends.

    With `log_dir` it logs as `dealnode serve` does (access lines included, so their cost is
    measured), into a file there rather than over the results.
    """
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if target.endswith("create_app"):
        command.append("--factory")
    log = None
    if log_dir is not None:
        from app.logs import log_config

        config = log_dir / "log-config.json"
        config.write_text(json.dumps(log_config()))
        command += ["--log-config", str(config)]
        log = (log_dir / "server.log").open("wb")
    process = subprocess.Popen(command, env={**os.environ, **env}, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}{ready_path}", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{target} did not become ready") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)
        if log is not None:
            log.close()


def _prepare(tmp: Path) -> tuple[dict[str, str], str, list[dict[str, object]]]:
    """Train a model, migrate a database, make a key; return env, key and request bodies."""
    import pandas as pd

    from app.db import make_engine, make_sessionmaker
    from app.keys.service import create_key
    from app.migrate import upgrade
    from tests.factories import customer_body
    from training.train import TrainConfig, train

    data = snapshot_file(OUT, 50_000, seed=1)
    with timed("train the served model"):
        train(TrainConfig(data=data, models_dir=tmp / "models"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        key, _ = create_key(session, scope="score")
        session.commit()
    engine.dispose()
    snapshot = pd.read_parquet(data).head(1000)
    bodies = [customer_body(row) for _, row in snapshot.iterrows()]
    env = {"DEALNODE_DATABASE_URL": url, "DEALNODE_MODELS_DIR": str(tmp / "models")}
    return env, key, bodies


def _measure(port: int, request: bytes, concurrency: int, seconds: float) -> LoadResult:
    run_load(HOST, port, request, concurrency=concurrency, seconds=1.0)  # warm up
    return run_load(HOST, port, request, concurrency=concurrency, seconds=seconds)


def main(argv: list[str] | None = None) -> int:
    """Measure both servers and print the table and verdicts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="per endpoint and level")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        env, key, bodies = _prepare(Path(tmp_name))
        single = json.dumps(bodies[0]).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        batch_body = json.dumps({"customers": bodies[:1000]}).encode()
        results: dict[tuple[str, int], LoadResult] = {}
        # Both servers run side by side and are measured in alternating rounds, best round
        # kept: on a shared machine a slow spell then hits both, not just one of them.
        with (
            server("benchmarks.bare_app:app", env, "/docs") as bare_port,
            server("app.main:create_app", env, "/readyz", Path(tmp_name)) as api_port,
        ):
            targets = {
                "bare": build_request(HOST, bare_port, "/v1/predict", single, headers),
                "api": build_request(HOST, api_port, "/v1/predict", single, headers),
            }
            for _ in range(args.rounds):
                for concurrency in (1, 16):
                    for name, request in targets.items():
                        port = bare_port if name == "bare" else api_port
                        r = _measure(port, request, concurrency, args.seconds / args.rounds)
                        best = results.get((name, concurrency))
                        if best is None or r.rate > best.rate:
                            results[name, concurrency] = r
            batch = build_request(HOST, api_port, "/v1/predict/batch", batch_body, headers)
            batch_result = run_load(
                HOST, api_port, batch, concurrency=1, seconds=args.seconds, max_requests=60
            )
        results = {
            key: results[key] for key in sorted(results, key=lambda k: (k[0] != "bare", k[1]))
        }
        logged = (Path(tmp_name) / "server.log").read_text().count("dealnode.access")
        print(f"  (the API server logged {logged:,} access lines)")
    print(f"{'endpoint':<28}{'conc.':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for (name, concurrency), r in results.items():
        label = "bare FastAPI (constant)" if name == "bare" else "POST /v1/predict (no store)"
        print(
            f"{label:<28}{concurrency:>6}{r.rate:>10,.0f}{r.percentile(50):>9.2f}"
            f"{r.percentile(99):>9.2f}{r.errors:>8}"
        )
    b = batch_result
    print(
        f"{'POST /v1/predict/batch 1000':<28}{1:>6}{b.rate:>10,.1f}{b.percentile(50):>9.2f}"
        f"{b.percentile(99):>9.2f}{b.errors:>8}"
    )
    for concurrency in (1, 16):
        ratio = results["api", concurrency].rate / results["bare", concurrency].rate
        print(
            f"ratio api/bare at concurrency {concurrency}: {ratio:.2f} (target >= 0.50: "
            f"{'PASS' if ratio >= 0.5 else 'FAIL'})"
        )
    p99 = results["api", 16].percentile(99)
    print(f"p99 at concurrency 16: {p99:.1f} ms (target < 25: {'PASS' if p99 < 25 else 'FAIL'})")
    p50 = b.percentile(50)
    print(f"batch of 1,000 p50: {p50:.1f} ms (target < 50: {'PASS' if p50 < 50 else 'FAIL'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
