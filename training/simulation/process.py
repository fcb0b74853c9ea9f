"""The stochastic journey process, vectorised over customers.

Each loop step advances every still-active customer by one dwell period: it draws the period's
length and whether it is quiet, emits Poisson-many events of each type at uniform times inside
it, and then moves the customer forward, backward or nowhere. Loops run over steps and event
types, never over customers, so a million journeys take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from training.simulation import params as p

SECONDS_PER_DAY = 86_400.0
N_TYPES = 6
PURCHASE = 5
LOYAL = 4
DECIDING = 3

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Journeys:
    """Simulated customers and their events (times in epoch seconds, whole seconds)."""

    segment: IntArray
    first_seen: FloatArray
    state: IntArray
    event_customer: IntArray
    event_type: IntArray
    event_time: FloatArray


def simulate_journeys(n: int, rng: np.random.Generator, as_of: float) -> Journeys:
    """Run every customer's journey from first contact to `as_of`."""
    segment = rng.choice(len(p.SEGMENTS), size=n, p=p.SEGMENT_SHARES).astype(np.int64)
    start = as_of - rng.uniform(0.0, 1.0, n) * p.HISTORY_DAYS[segment] * SECONDS_PER_DAY
    state = rng.choice(5, size=n, p=p.ENTRY_STATE_SHARES).astype(np.int64)
    activity = rng.gamma(p.ACTIVITY_SHAPE, 1.0 / p.ACTIVITY_SHAPE, n)
    clock = start.copy()
    active = np.arange(n)
    customers: list[IntArray] = []
    types: list[IntArray] = []
    times: list[FloatArray] = []
    while active.size:
        seg, st = segment[active], state[active]
        quiet = rng.random(active.size) < p.QUIET_SHARE[seg]
        mean_days = np.where(
            quiet & (st < LOYAL),
            np.minimum(p.DWELL_MEAN_DAYS[seg, st], p.QUIET_DWELL_MEAN_DAYS),
            p.DWELL_MEAN_DAYS[seg, st],
        )
        dwell = rng.gamma(p.DWELL_SHAPE, mean_days / p.DWELL_SHAPE) * SECONDS_PER_DAY
        begin = clock[active]
        end = np.minimum(begin + dwell, as_of)
        days = (end - begin) / SECONDS_PER_DAY
        factor = activity[active] * np.where(quiet, p.QUIET_RATE_FACTOR, 1.0)
        for kind in range(N_TYPES):
            rate = p.BASE_RATES[st, kind] * p.SEGMENT_RATE_FACTORS[seg, kind]
            count = rng.poisson(rate * factor * days)
            owners = np.repeat(np.arange(active.size), count)
            if owners.size:
                customers.append(active[owners])
                types.append(np.full(owners.size, kind, dtype=np.int64))
                times.append(begin[owners] + rng.random(owners.size) * (end - begin)[owners])
        finished = begin + dwell >= as_of
        moving = ~finished
        next_state = _next_state(rng, seg[moving], st[moving], quiet[moving])
        bought = (st[moving] == DECIDING) & (next_state == LOYAL)
        if bought.any():
            buyers = active[moving][bought]
            customers.append(buyers)
            types.append(np.full(buyers.size, PURCHASE, dtype=np.int64))
            times.append((begin + dwell)[moving][bought])
        state[active[moving]] = next_state
        clock[active[moving]] = (begin + dwell)[moving]
        active = active[moving]
    event_time = np.floor(np.concatenate(times)) if times else np.zeros(0)
    return Journeys(
        segment=segment,
        first_seen=start,
        state=state,
        event_customer=np.concatenate(customers) if customers else np.zeros(0, np.int64),
        event_type=np.concatenate(types) if types else np.zeros(0, np.int64),
        event_time=event_time,
    )


def _next_state(
    rng: np.random.Generator, seg: IntArray, st: IntArray, quiet: npt.NDArray[np.bool_]
) -> IntArray:
    forward = p.MOVE_FORWARD[seg, st] * np.where(quiet, p.QUIET_FORWARD_FACTOR, 1.0)
    backward = np.minimum(
        p.MOVE_BACKWARD[seg, st] * np.where(quiet, p.QUIET_BACKWARD_FACTOR, 1.0), 1.0 - forward
    )
    draw = rng.random(st.size)
    out = st.copy()
    out[draw < forward] = np.minimum(st[draw < forward] + 1, LOYAL)
    back = (draw >= forward) & (draw < forward + backward)
    out[back] = p.BACKWARD_TARGET[st[back]]
    return out


def mislabel(rng: np.random.Generator, state: IntArray, rate: float) -> IntArray:
    """What a busy rep records: mostly right, sometimes a neighbouring or other state."""
    label = state.copy()
    wrong = rng.random(state.size) < rate
    neighbour = rng.random(state.size) < p.MISLABEL_NEIGHBOUR_SHARE
    step = np.where(rng.random(state.size) < 0.5, -1, 1)
    near = np.clip(state + step, 0, LOYAL)
    near = np.where(near == state, state - step, near)
    other = (state + rng.integers(1, 5, state.size)) % 5
    label[wrong] = np.where(neighbour, near, other)[wrong]
    return label
