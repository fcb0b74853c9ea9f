"""Simulator speed: 1,000,000 customers' snapshot, against a floor measured in the same run.

The floor draws as many uniform event times as the simulation produced and aggregates them with
one `np.bincount`: the least any simulator of this size must do. Target (ML-core issue): the
snapshot in under 120 s on this 2-core machine.
Run: `.venv/bin/python -m benchmarks.bench_simulate [--customers N]`.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from training.simulation import simulate

TARGET_SECONDS = 120.0


def main(argv: list[str] | None = None) -> int:
    """Time `simulate` (snapshot only) and the floor; print both and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    n = args.customers

    start = time.perf_counter()
    sim = simulate(n, seed=0, with_events=False)
    sim_s = time.perf_counter() - start
    events = int(
        sim.snapshot["visits"].sum()
        + sim.snapshot["replies"].sum()
        + sim.snapshot["quotes"].sum()
        + sim.snapshot["objections"].sum()
        + sim.snapshot["meetings"].sum()
        + sim.snapshot["purchases"].sum()
    )

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    owners = rng.integers(0, n, events)
    times = rng.random(events)
    np.bincount(owners[times > 0.5], minlength=n)
    floor_s = time.perf_counter() - start

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"customers: {n:,}; events simulated: {events:,}; peak RSS {peak_mib:,.0f} MiB")
    print(f"simulate (snapshot): {sim_s:.1f} s ({n / sim_s:,.0f} customers/s)")
    print(f"floor (draw + bincount the same events): {floor_s:.2f} s")
    print(f"ratio simulate/floor: {sim_s / floor_s:.1f}")
    verdict = "PASS" if sim_s < TARGET_SECONDS else "FAIL"
    print(f"target < {TARGET_SECONDS:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
