"""The stochastic journey process, vectorised over customers.

Each loop step advances every still-active customer by one dwell period: it draws the period's
length and whether it is quiet, emits Poisson-many events of each type at uniform times inside
it, and then moves the customer forward, backward or nowhere. Loops run over steps and event
types, never over customers, so a million journeys take seconds.

The period a customer is in at `as_of` runs on past it; `fall_back_within` continues each
journey from there, moves only and no events, to label whether the customer falls back within
the at-risk horizon: the future decides the label and never reaches the snapshot or the events.
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
OBJECTION = 3

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Journeys:
    """Simulated customers and their events (times in epoch seconds, whole seconds)."""

    segment: IntArray
    first_seen: FloatArray
    state: IntArray
    event_customer: IntArray
    event_type: IntArray
    event_time: FloatArray
    period_end: FloatArray
    """When the period each customer is in at `as_of` ends (at or after `as_of`)."""
    period_quiet: BoolArray
    period_resistant: BoolArray


_EVENT_FACTORS = {
    False: (p.RESISTANT_CONTACT_FACTOR, p.STEADY_CONTACT_FACTOR),
    True: (p.RESISTANT_OBJECTION_FACTOR, p.STEADY_OBJECTION_FACTOR),
}
"""Contacts, then objections: (resistant, steady) rate factors."""


def _lean(st: IntArray, resistant: BoolArray, leaning: float, steady: float) -> FloatArray:
    """A factor per period: `leaning` for resistant periods, `steady` for the other periods
    of the states that can be resistant, 1 elsewhere."""
    return np.where(resistant, leaning, np.where(p.RESISTANT_STATES[st], steady, 1.0))


@dataclass(frozen=True)
class _Periods:
    """The next dwell period of a group of customers: its kind and length (seconds)."""

    quiet: BoolArray
    resistant: BoolArray
    dwell: FloatArray


def _periods(rng: np.random.Generator, seg: IntArray, st: IntArray) -> _Periods:
    quiet = rng.random(st.size) < p.QUIET_SHARE[seg]
    resistant = (rng.random(st.size) < p.RESISTANT_SHARE) & p.RESISTANT_STATES[st]
    mean_days = np.where(
        quiet & (st < LOYAL),
        np.minimum(p.DWELL_MEAN_DAYS[seg, st], p.QUIET_DWELL_MEAN_DAYS),
        p.DWELL_MEAN_DAYS[seg, st],
    )
    dwell = rng.gamma(p.DWELL_SHAPE, mean_days / p.DWELL_SHAPE) * SECONDS_PER_DAY
    return _Periods(quiet, resistant, dwell)


def simulate_journeys(n: int, rng: np.random.Generator, as_of: float) -> Journeys:
    """Run every customer's journey from first contact to `as_of`."""
    segment = rng.choice(len(p.SEGMENTS), size=n, p=p.SEGMENT_SHARES).astype(np.int64)
    start = as_of - rng.uniform(0.0, 1.0, n) * p.HISTORY_DAYS[segment] * SECONDS_PER_DAY
    state = rng.choice(5, size=n, p=p.ENTRY_STATE_SHARES).astype(np.int64)
    activity = rng.gamma(p.ACTIVITY_SHAPE, 1.0 / p.ACTIVITY_SHAPE, n)
    clock = start.copy()
    period_end = np.full(n, as_of)
    period_quiet = np.zeros(n, bool)
    period_resistant = np.zeros(n, bool)
    active = np.arange(n)
    customers: list[IntArray] = []
    types: list[IntArray] = []
    times: list[FloatArray] = []
    while active.size:
        seg, st = segment[active], state[active]
        period = _periods(rng, seg, st)
        quiet, resistant, dwell = period.quiet, period.resistant, period.dwell
        begin = clock[active]
        end = np.minimum(begin + dwell, as_of)
        days = (end - begin) / SECONDS_PER_DAY
        factor = activity[active] * np.where(quiet, p.QUIET_RATE_FACTOR, 1.0)
        # Computed once a step, not once an event type: rate factors for contacts and objections.
        scaled = {
            is_objection: factor * days * _lean(st, resistant, *leaning)
            for is_objection, leaning in _EVENT_FACTORS.items()
        }
        for kind in range(N_TYPES):
            rate = p.BASE_RATES[st, kind] * p.SEGMENT_RATE_FACTORS[seg, kind]
            count = rng.poisson(rate * scaled[kind == OBJECTION])
            owners = np.repeat(np.arange(active.size), count)
            if owners.size:
                customers.append(active[owners])
                types.append(np.full(owners.size, kind, dtype=np.int64))
                share = _skewed(rng.random(owners.size), resistant[owners], kind == OBJECTION)
                times.append(begin[owners] + share * (end - begin)[owners])
        finished = begin + dwell >= as_of
        done = active[finished]
        period_end[done] = (begin + dwell)[finished]
        period_quiet[done] = quiet[finished]
        period_resistant[done] = resistant[finished]
        moving = ~finished
        next_state = _next_state(rng, seg[moving], st[moving], quiet[moving], resistant[moving])
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
        period_end=period_end,
        period_quiet=period_quiet,
        period_resistant=period_resistant,
    )


def _skewed(share: FloatArray, resistant: BoolArray, rising: bool) -> FloatArray:
    """Where in its period each event falls: uniform, except in a resistant period, where
    objections pile up towards the end and other contacts thin out (density 2x or 2(1-x))."""
    if not resistant.any():
        return share
    root = np.sqrt(share[resistant])
    out = share.copy()
    out[resistant] = root if rising else 1.0 - root
    return out


def fall_back_within(
    journeys: Journeys, rng: np.random.Generator, as_of: float, horizon_days: float
) -> BoolArray:
    """Whether each customer, from its true state at `as_of`, falls back at least one state
    (a loyal customer: stops being loyal) before `as_of + horizon_days`.

    The journey goes on from the end of the period it is in at `as_of`: only moves and the
    periods between them are drawn, no events, so nothing of the future can reach the data.
    """
    limit = as_of + horizon_days * SECONDS_PER_DAY
    start = journeys.state
    state = start.copy()
    end = journeys.period_end.copy()
    quiet = journeys.period_quiet.copy()
    resistant = journeys.period_resistant.copy()
    fell = np.zeros(state.size, bool)
    active = np.flatnonzero(end < limit)
    while active.size:
        seg = journeys.segment[active]
        moved = _next_state(rng, seg, state[active], quiet[active], resistant[active])
        state[active] = moved
        fell[active] = moved < start[active]
        period = _periods(rng, seg, moved)
        quiet[active], resistant[active] = period.quiet, period.resistant
        end[active] += period.dwell
        active = active[(end[active] < limit) & ~fell[active]]
    return fell


def _next_state(
    rng: np.random.Generator,
    seg: IntArray,
    st: IntArray,
    quiet: BoolArray,
    resistant: BoolArray,
) -> IntArray:
    forward = (
        p.MOVE_FORWARD[seg, st]
        * np.where(quiet, p.QUIET_FORWARD_FACTOR, 1.0)
        * _lean(st, resistant, p.RESISTANT_FORWARD_FACTOR, p.STEADY_FORWARD_FACTOR)
    )
    backward = np.minimum(
        p.MOVE_BACKWARD[seg, st]
        * np.where(quiet, p.QUIET_BACKWARD_FACTOR, 1.0)
        * _lean(st, resistant, p.RESISTANT_BACKWARD_FACTOR, p.STEADY_BACKWARD_FACTOR),
        1.0 - forward,
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
