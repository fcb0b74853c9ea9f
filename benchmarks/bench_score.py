"""Offline scoring throughput against the raw `Booster.predict` floor on the same rows.

Target (ML-core issue): `dealnode score` scores at no less than half of the raw predict
throughput. Run: `.venv/bin/python -m benchmarks.bench_score [--customers N]`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import best_of, snapshot_file, timed
from training.artifacts import load_model
from training.dataset import load_customers
from training.offline_scoring import score_file, score_table
from training.prediction import RawInputs, design
from training.train import TrainConfig, train

OUT = Path("benchmarks/out")


def main(argv: list[str] | None = None) -> int:
    """Train a small model, then time raw predict, in-memory scoring and file scoring."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--train-customers", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)

    data = snapshot_file(OUT, args.customers)
    train_data = snapshot_file(OUT, args.train_customers, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        with timed("train the model"):
            result = train(TrainConfig(data=train_data, models_dir=Path(tmp)))
        model = load_model(result.path)
        table = load_customers(data, require_labels=False)
        matrix = design(RawInputs.of_table(table), table.as_of.to_pydatetime(), model.layout)
        n = len(table)

        floor_s, _ = best_of(args.runs, lambda: model.booster.predict(matrix))
        memory_s, scores = best_of(args.runs, lambda: score_table(model, table))
        file_s, _ = best_of(1, lambda: score_file(model, data, Path(tmp) / "scores.parquet"))
    assert len(scores) == n
    assert np.isfinite(scores.filter(like="p_").to_numpy()).all()

    floor_rate, file_rate = n / floor_s, n / file_s
    print(f"rows: {n:,}; trees: {model.booster.num_trees()}; features: {matrix.shape[1]}")
    rows = [
        ("floor: Booster.predict on a ready matrix", floor_s),
        ("score_table (features + predict + frame)", memory_s),
        ("score_file (read parquet .. write parquet)", file_s),
    ]
    print(f"{'path':<44}{'seconds':>9}{'rows/s':>12}{'vs floor':>10}")
    for label, seconds in rows:
        rate = n / seconds
        print(f"{label:<44}{seconds:>9.2f}{rate:>12,.0f}{rate / floor_rate:>10.2f}")
    verdict = "PASS" if file_rate >= 0.5 * floor_rate else "FAIL"
    print(f"target: score_file >= 0.5 x floor -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
