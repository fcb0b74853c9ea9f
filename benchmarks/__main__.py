"""Run every benchmark in turn: `make bench` (or `.venv/bin/python -m benchmarks`).

The ingestion and rescoring benchmarks cover PostgreSQL too when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from benchmarks import (
    bench_charts,
    bench_http,
    bench_ingest,
    bench_rescore,
    bench_score,
    bench_simulate,
    bench_train,
)


def main() -> int:
    """Run each benchmark with its default sizes."""
    for name, bench in (
        ("simulate", bench_simulate),
        ("train", bench_train),
        ("score", bench_score),
        ("http", bench_http),
        ("ingest", bench_ingest),
        ("rescore", bench_rescore),
        ("charts", bench_charts),
    ):
        print(f"\n== {name}", flush=True)
        bench.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
