"""The score history's state changes counted per UTC day: a few rows a day instead of the
hundreds of thousands of changes a nightly run writes, so the funnel's trend never scans
months of history on a view.

A day is summarized once it is over, lazily, by the first reader that needs it, in its own
short transaction. Its `history_day` row is what concurrent readers agree on: inserting it
(or taking it back from out of date) claims the day, and on PostgreSQL a second reader waits
on that row and then finds the day taken; on SQLite writes take turns anyway.

Most changes are stored with the current time, so a day over stays as summarized. The ones
that are not (a nightly run that went past midnight is dated at its `as_of`, a backfill or an
import `--as-of` at theirs) go through `mark_out_of_date`, which costs nothing on the usual
path and, on the rare back-dated one, upserts the day's row: an upsert waits on a summary being
written at the same time, so a change is never left out of a summary that was taken as whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    CursorResult,
    Select,
    String,
    cast,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from app.bulk import for_session
from app.tables import Customer, CustomerScore, HistoryDay, HistoryDayMove

SETTLE = timedelta(minutes=10)
"""How long after midnight a day is summarized: a change timed just before midnight may
commit a little after it (a scoring transaction's time is taken before it commits)."""

Moves = dict[tuple[str | None, str], int]
"""Customers per (previous state, state); None: a first score."""


def day_of(moment: datetime) -> date:
    """The UTC day a time falls on."""
    return moment.astimezone(UTC).date()


def start_of(day: date) -> datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.combine(day, time(), tzinfo=UTC)


def mark_out_of_date(session: Session, scored_at: datetime, *, now: datetime) -> None:
    """Make the summary of `scored_at`'s day be redone, if that day is over: a change stored
    in the caller's transaction is dated then, and the summary may have been made without it.
    """
    day = day_of(scored_at)
    if day >= day_of(now):
        return
    row = {"day": day, "summarized_at": None}
    statement = for_session(session).insert(HistoryDay)
    session.execute(
        statement.values(row).on_conflict_do_update(
            index_elements=[HistoryDay.day], set_={"summarized_at": None}
        )
    )


def is_over(day: date, now: datetime) -> bool:
    """Whether `day` can be summarized: over, and settled (`SETTLE`)."""
    return start_of(day + timedelta(days=1)) + SETTLE <= now


def summarize_missing(session: Session, days: Collection[date], *, now: datetime) -> int:
    """Summarize those of `days` that are over and have no summary, or an out-of-date one;
    how many this call summarized (a concurrent reader may have done some).

    Commits: each day is a transaction of its own, begun by its claim, so a day's summary is
    all there or not at all, and other readers wait on one day at a time, not on all.
    """
    session.commit()  # each claim below must begin its transaction (SQLite's write lock)
    known = dict(
        session.execute(
            select(HistoryDay.day, HistoryDay.summarized_at).where(HistoryDay.day.in_(list(days)))
        ).all()
    )
    done = 0
    for day in sorted(days):
        if not is_over(day, now) or known.get(day) is not None:
            continue
        if _claim(session, day, now, exists=day in known):
            session.execute(delete(HistoryDayMove).where(HistoryDayMove.day == day))
            moves = count_moves(session, start_of(day), start_of(day + timedelta(days=1)))
            if moves:
                session.execute(
                    insert(HistoryDayMove),
                    [
                        {"day": day, "previous_state": before, "state": after, "customers": n}
                        for (before, after), n in moves.items()
                    ],
                )
            done += 1
        session.commit()
    return done


def _claim(session: Session, day: date, now: datetime, *, exists: bool) -> bool:
    """Take `day` to summarize it: insert its row, or take it back from out of date. False if
    another reader has (or just had) it."""
    if not exists:
        statement = for_session(session).insert(HistoryDay)
        inserted = session.scalar(
            statement.values(day=day, summarized_at=now)
            .on_conflict_do_nothing(index_elements=[HistoryDay.day])
            .returning(HistoryDay.day)  # what was inserted: rowcount is not reliable here
        )
        if inserted is not None:
            return True
    taken: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(HistoryDay)
        .where(HistoryDay.day == day, HistoryDay.summarized_at.is_(None))
        .values(summarized_at=now)
    )
    return taken.rowcount == 1


def count_moves(session: Session, start: datetime, end: datetime | None = None) -> Moves:
    """The changes stored with a time in [start, end) (no end: from `start` on), counted per
    pair of states."""
    return {(before, after): int(n) for before, after, n in session.execute(_moves(start, end))}


def _moves(start: datetime, end: datetime | None = None) -> Select[str | None, str, int]:
    """(previous state, state, changes) over [start, end): a range of
    `ix_customer_score_scored_at`, read from the index alone."""
    query = select(CustomerScore.previous_state, CustomerScore.state, func.count()).where(
        CustomerScore.scored_at >= start
    )
    if end is not None:
        query = query.where(CustomerScore.scored_at < end)
    return query.group_by(CustomerScore.previous_state, CustomerScore.state)


def summarized_moves(session: Session, since: date) -> dict[date, Moves]:
    """The summaries of the days from `since` on that are up to date (one statement, so a
    day being summarized again is seen either before or after, never half)."""
    rows = session.execute(
        select(
            HistoryDay.day,
            HistoryDayMove.previous_state,
            HistoryDayMove.state,
            HistoryDayMove.customers,
        )
        .outerjoin(HistoryDayMove, HistoryDayMove.day == HistoryDay.day)
        .where(HistoryDay.day >= since, HistoryDay.summarized_at.is_not(None))
    )
    found: dict[date, Moves] = defaultdict(dict)
    for day, before, after, n in rows:
        moves = found[day]  # a day without changes is summarized, with no moves
        if after is not None:
            moves[before, after] = int(n)
    return dict(found)


def version(session: Session) -> tuple[int, int, datetime | None]:
    """What changes whenever a day's summary is made, remade or put out of date: a day's
    trend computed under one version holds until the version moves (`web/funnel.py`).

    (days with a row, days summarized, the latest summary's time), from a table of a row a day.
    """
    rows, summarized, latest = session.execute(
        select(
            func.count(), func.count(HistoryDay.summarized_at), func.max(HistoryDay.summarized_at)
        )
    ).one()
    return int(rows), int(summarized), latest


def counts_and_moves_since(session: Session, start: datetime) -> tuple[dict[str, int], Moves]:
    """Customers per state now, and the changes stored with a time from `start` on, read in
    one statement so both come from the same snapshot: a change committed between two reads
    would be in one and not the other, and the counts derived from them off by it."""
    now_part = (
        select(cast(null(), String).label("before"), Customer.state, func.count())
        .where(Customer.state.is_not(None))
        .group_by(Customer.state)
    )
    tagged = union_all(
        now_part.add_columns(literal_column("'now'").label("part")),
        _moves(start).add_columns(literal_column("'moved'").label("part")),
    )
    counts: dict[str, int] = {}
    moves: Moves = {}
    for before, after, n, part in session.execute(tagged):
        if part == "now":
            counts[after] = int(n)
        else:
            moves[before, after] = int(n)
    return counts, moves


def first_change(session: Session) -> datetime | None:
    """When the score history begins (None: it is empty); the end of an index."""
    return session.scalar(select(func.min(CustomerScore.scored_at)))
