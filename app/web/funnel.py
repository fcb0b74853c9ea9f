"""The funnel page's numbers: customers per state now, the at-risk count, how the last
nightly run moved customers, and the trend over the last days.

Each is a query an index answers: a GROUP BY on the state, a range on the at-risk index, the
newest run's row with its stored transitions, and for the trend the per-day summaries of the
score history, rebuilt into the ends of days once a day and kept by the runtime (`read_trend`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.monitoring.cache import TtlCache
from app.scoring import history_days
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
    """Customers per state in funnel order at one time: the end of a UTC day, or now."""

    as_of: datetime
    per_state: dict[str, int]


@dataclass(frozen=True)
class Trend:
    """The funnel at the end of each day of a window, oldest first (the counts now are the
    funnel's own, `read_funnel`)."""

    points: list[TrendPoint]
    history_begins: datetime | None
    """The first change in the score history (None: none yet). Before it nothing is known,
    so no point is earlier than the end of its day."""


TREND_KEPT_SECONDS = 86_400.0
"""How long a runtime keeps a trend: a day, since each day's view moves to a new key."""


def read_trend(
    session: Session, *, now: datetime, days: int, kept: TtlCache[Trend] | None = None
) -> Trend:
    """The funnel at the end of each of the last `days` UTC days, rebuilt backwards from the
    score history: a day's counts are the counts now minus every change after it (a change
    is -1 to its previous state, +1 to its new one).

    Days over come from their per-day summary, made the first time one is needed
    (`history_days.py`). Today's changes are counted from the history itself, in the same
    statement as the counts now: that is most of a view's cost on a large base (a nightly
    run changes a fifth of it), and its result, the end of yesterday, does not move as the
    day goes on. So `kept` keeps the trend until the summaries' version moves: a new day
    summarized, or a change stored back-dated onto a day over (which puts that day out of
    date), or midnight. Commits (the summaries). A customer deleted from the table takes its
    history with it, and a day summarized before that still counts its changes
    (docs/web-app.md).
    """
    begins = history_days.first_change(session)
    if begins is None:
        return Trend(points=[], history_begins=None)
    today = history_days.day_of(now)
    first = max(today - timedelta(days=days), history_days.day_of(begins))
    if first >= today:  # the history begins today: no day of it has ended
        return Trend(points=[], history_begins=begins)
    over = [first + timedelta(days=k) for k in range(1, (today - first).days)]
    history_days.summarize_missing(session, over, now=now)
    if kept is None:
        return _rebuilt(session, first, over, today, begins)
    key = (today, first, history_days.version(session))
    return kept.get_or_compute(key, lambda: _rebuilt(session, first, over, today, begins))


def _rebuilt(
    session: Session, first: date, over: list[date], today: date, begins: datetime
) -> Trend:
    """The end of each day from `first` to yesterday (`over` are the days after `first`)."""
    per_day = history_days.summarized_moves(session, first + timedelta(days=1))
    for day in over:
        if day not in per_day:  # not settled yet, or put out of date since
            start = history_days.start_of(day)
            per_day[day] = history_days.count_moves(session, start, start + timedelta(days=1))
    now_counts, moves_today = history_days.counts_and_moves_since(
        session, history_days.start_of(today)
    )
    counts = {state: now_counts.get(state, 0) for state in STATES}
    _undo(counts, moves_today)
    points = [TrendPoint(as_of=history_days.start_of(today), per_state=dict(counts))]
    for day in reversed(over):
        _undo(counts, per_day[day])
        points.append(TrendPoint(as_of=history_days.start_of(day), per_state=dict(counts)))
    return Trend(points=points[::-1], history_begins=begins)


def _undo(counts: dict[str, int], moves: history_days.Moves) -> None:
    """The counts before `moves` from the counts after them."""
    for (before, after), n in moves.items():
        if after in counts:
            counts[after] -= n
        if before in counts:
            counts[before] += n
