"""Run every benchmark in turn: `make bench` (or `.venv/bin/python -m benchmarks`)."""

from __future__ import annotations

from benchmarks import bench_score, bench_simulate, bench_train


def main() -> int:
    """Run the simulate, train and score benchmarks with their default sizes."""
    for name, bench in (
        ("simulate", bench_simulate),
        ("train", bench_train),
        ("score", bench_score),
    ):
        print(f"\n== {name}")
        bench.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
