"""Training time of `dealnode train` against a bare `lightgbm.train` on the same rows.

The floor fits the same booster (same parameters, same number of rounds, no early stopping)
on a ready matrix; the rest of `train` is loading, features, baselines, calibration, report.
Run: `.venv/bin/python -m benchmarks.bench_train [--customers N]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import lightgbm as lgb

from benchmarks.common import snapshot_file
from training.artifacts import load_model
from training.dataset import load_customers
from training.fitting import label_codes
from training.prediction import RawInputs, design
from training.train import MODEL_NAME, TrainConfig, train

OUT = Path("benchmarks/out")


def main(argv: list[str] | None = None) -> int:
    """Time a full training run, then the bare booster fit it contains."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    args = parser.parse_args(argv)

    data = snapshot_file(OUT, args.customers)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = train(TrainConfig(data=data, models_dir=Path(tmp)))
        full_s = time.perf_counter() - start
        model = load_model(result.path)
        table = load_customers(data, require_labels=True)
        assert table.labels is not None
        rounds = model.booster.current_iteration()
        start = time.perf_counter()
        # The floor is one plain multiclass fit: an ordinal winner's objective is a Python
        # function that the metadata names but cannot hold.
        lgb.train(
            {**model.metadata["params"], "objective": "multiclass"},
            lgb.Dataset(
                design(RawInputs.of_table(table), table.as_of.to_pydatetime(), model.layout),
                label=label_codes(table.labels),
                categorical_feature=model.layout.categorical_positions,
            ),
            num_boost_round=rounds,
        )
        floor_s = time.perf_counter() - start
    f1 = result.metrics[MODEL_NAME]["macro_f1"]
    print(f"customers: {args.customers:,}; boosting rounds: {rounds}; test macro-F1 {f1:.3f}")
    print(f"dealnode train (everything): {full_s:.1f} s")
    print(f"floor (lightgbm.train, same rounds, all rows): {floor_s:.1f} s")
    print(f"ratio train/floor: {full_s / floor_s:.2f}")
    if args.customers == 200_000:
        print(f"target, under 30 s for 200,000 customers: {'met' if full_s < 30 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
