"""The funnel page's numbers: customers per state now, the at-risk count, and how the last
nightly run moved customers.

Each is one query an index answers: a GROUP BY on the state (the queue index leads with it),
a range on the at-risk index, and the newest run's row with its stored transitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.tables import Customer, ScoringRun
from training.features import STATES

SUCCEEDED = "succeeded"
"""A finished run that was not a dry run (`app/nightly/run_records.py`)."""


@dataclass(frozen=True)
class RunMoves:
    """The last finished nightly run and how many customers it moved up or down the funnel."""

    run_id: str
    as_of: str
    rows_scored: int
    forward: int
    back: int
    stayed: int
    moves: list[tuple[str, str, int]]
    """(from, to, customers), the largest first."""


@dataclass(frozen=True)
class Funnel:
    """Customers per state in funnel order, the at-risk count, and the last run's moves."""

    per_state: dict[str, int]
    at_risk: int
    has_customers: bool
    """Whether any customer is stored, scored or not: an empty database is a first run."""
    last_run: RunMoves | None

    @property
    def scored(self) -> int:
        """Customers with a state."""
        return sum(self.per_state.values())


def read_funnel(session: Session, *, at_risk_threshold: float) -> Funnel:
    """The funnel now, from the customer table's current states."""
    grouped = session.execute(
        select(Customer.state, func.count())
        .where(Customer.state.is_not(None))
        .group_by(Customer.state)
    )
    counted = {row[0]: int(row[1]) for row in grouped}
    at_risk = session.scalar(
        select(func.count()).select_from(Customer).where(Customer.at_risk >= at_risk_threshold)
    )
    anyone = session.scalar(select(Customer.customer_id).limit(1)) is not None
    return Funnel(
        per_state={state: int(counted.get(state, 0)) for state in STATES},
        at_risk=int(at_risk or 0),
        has_customers=anyone,
        last_run=_last_run(session),
    )


def _last_run(session: Session) -> RunMoves | None:
    run = session.scalar(
        select(ScoringRun)
        .where(ScoringRun.status == SUCCEEDED)
        .order_by(ScoringRun.started_at.desc())
        .limit(1)
    )
    if run is None:
        return None
    rank = {state: i for i, state in enumerate(STATES)}
    forward = back = stayed = 0
    moves = []
    for before, targets in (run.transitions or {}).items():
        for after, n in targets.items():
            if before == after:
                stayed += n
                continue
            if n == 0:  # a run stores every pair of states it has seen, moved or not
                continue
            moves.append((before, after, n))
            if rank.get(after, 0) > rank.get(before, 0):
                forward += n
            else:
                back += n
    return RunMoves(
        run_id=run.id,
        as_of=run.as_of.strftime("%Y-%m-%d %H:%M UTC"),
        rows_scored=run.rows_scored,
        forward=forward,
        back=back,
        stayed=stayed,
        moves=sorted(moves, key=lambda m: -m[2]),
    )


@dataclass(frozen=True)
class TrendPoint:
    """The funnel right after one nightly run: customers per state in funnel order."""

    as_of: datetime
    per_state: dict[str, int]


def read_trend(session: Session, *, now: datetime, days: int) -> list[TrendPoint]:
    """The funnel after each successful nightly run of the last `days` days, oldest first.

    Read from each run's stored transitions (customers moved from each state to each state),
    whose columns add up to the states after the run: a per-run summary, so the trend costs
    no scan of the customers or their history. Customers a run scored for the first time
    have no transition and are not counted.
    """
    runs = session.scalars(
        select(ScoringRun)
        .where(ScoringRun.status == SUCCEEDED, ScoringRun.as_of >= now - timedelta(days=days))
        .order_by(ScoringRun.as_of)
    )
    points = []
    for run in runs:
        after = dict.fromkeys(STATES, 0)
        for targets in (run.transitions or {}).values():
            for state, n in targets.items():
                if state in after:
                    after[state] += n
        points.append(TrendPoint(as_of=run.as_of, per_state=after))
    return points
