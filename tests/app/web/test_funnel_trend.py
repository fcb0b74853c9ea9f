"""The funnel's trend, rebuilt from the score history, against the history replayed customer
by customer; and its per-day summaries, made once, reused, and made again when a change is
stored on a day already summarized."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from app.db import make_sessionmaker
from app.monitoring.cache import TtlCache
from app.scoring import history_days
from app.scoring.results import ScoreView
from app.scoring.state_changes import Source, StateChange, record_changes
from app.tables import Customer, CustomerScore, HistoryDay, HistoryDayMove, ScoringRun
from app.web.funnel import TREND_KEPT_SECONDS, Trend, read_funnel, read_trend
from tests.app.web.chart_images import charts_in
from tests.app.web.signing_in import sign_in
from training.features import STATES

SOURCES: tuple[Source, ...] = ("api", "webhook", "rescore")


@pytest.fixture
def now() -> datetime:
    """The readers' time: the writer dates changes against the real clock, so this is it."""
    return datetime.now(UTC)


def _view(customer_id: str, state: str, when: datetime) -> ScoreView:
    return {
        "customer_id": customer_id,
        "state": state,
        "probabilities": dict.fromkeys(STATES, 0.2),
        "confidence": 0.5,
        "model_version": "m",
        "model_segment": None,
        "as_of": when.isoformat(),
        "reasons_for": [],
        "reasons_against": [],
        "next_action": {
            "code": "call",
            "title": "Call",
            "why": [],
            "urgency": "soon",
            "channel": "phone",
            "due_date": when.date().isoformat(),
        },
        "at_risk": None,
    }


def _change(db: Session, customer_id: str, state: str, when: datetime, source: Source) -> None:
    """Store a state change as every scoring path does: the customer's row, then the writer."""
    customer = db.get(Customer, customer_id)
    if customer is None:
        customer = Customer(
            customer_id=customer_id, inputs_as_of=when, created_at=when, updated_at=when
        )
        db.add(customer)
        db.flush()
    previous = customer.state
    customer.state, customer.scored_at = state, when
    db.flush()
    record_changes(
        db, [StateChange(previous, _view(customer_id, state, when))], now=when, source=source
    )


def _random_history(db: Session, now: datetime, *, customers: int, days: int, seed: int) -> None:
    """Customers first scored on random days of the last `days` (a few before the 90 days the
    trend covers), then changing state a few times, each change by a random source."""
    rng = random.Random(seed)
    for i in range(customers):
        when = now - timedelta(days=rng.uniform(0, days), hours=rng.uniform(0, 3))
        state = rng.choice(STATES)
        _change(db, f"t-{i:03d}", state, when, rng.choice(SOURCES))
        for _ in range(rng.randint(0, 4)):
            when += timedelta(hours=rng.uniform(1, 24 * 20))
            if when >= now:
                break
            state = rng.choice([s for s in STATES if s != state])
            _change(db, f"t-{i:03d}", state, when, rng.choice(SOURCES))
    db.commit()


def _replayed(db: Session, at: datetime) -> dict[str, int]:
    """Customers per state at `at`, customer by customer: each one's last change before it,
    or, before its first, the state that change left (none for a first score)."""
    counts = dict.fromkeys(STATES, 0)
    for customer in db.scalars(select(Customer)):
        rows = db.scalars(
            select(CustomerScore)
            .where(CustomerScore.customer_id == customer.customer_id)
            .order_by(CustomerScore.scored_at, CustomerScore.id)
        ).all()
        before = [row for row in rows if row.scored_at < at]
        state = before[-1].state if before else (rows[0].previous_state if rows else customer.state)
        if state is not None:
            counts[state] += 1
    return counts


def _trend(db: Session, now: datetime) -> list[tuple[datetime, dict[str, int]]]:
    """The ends of days, then the counts now, as the page's table shows them."""
    found = read_trend(db, now=now, days=90)
    current = read_funnel(db, at_risk_threshold=0.5).per_state
    return [(point.as_of, point.per_state) for point in found.points] + [(now, current)]


def test_the_trend_is_the_history_replayed_at_the_end_of_each_day(
    db: Session, now: datetime
) -> None:
    _random_history(db, now, customers=60, days=100, seed=3)
    sources = set(db.scalars(select(CustomerScore.source).distinct()))
    assert sources == set(SOURCES)
    trend = _trend(db, now)
    assert len(trend) == 90 + 1
    assert trend[-1] == (now, read_funnel(db, at_risk_threshold=0.5).per_state)
    midnight = history_days.start_of(now.date())
    ends = [midnight - timedelta(days=k) for k in range(89, -1, -1)]
    assert [at for at, _ in trend[:-1]] == ends
    for at, counts in trend:
        assert counts == _replayed(db, at), at
    assert len({tuple(counts.values()) for _, counts in trend}) > 10  # it does move


def test_a_base_fed_only_by_the_api_and_webhooks_has_a_trend(
    client: TestClient, score_key: dict[str, str], db: Session, now: datetime
) -> None:
    first_scores: list[tuple[int, str, Source]] = [
        (20, "potential", "webhook"),
        (12, "interested", "api"),
        (5, "intent", "webhook"),
    ]
    for i, (days_ago, state, source) in enumerate(first_scores):
        _change(db, f"w-{i}", state, now - timedelta(days=days_ago), source)
    _change(db, "w-0", "intent", now - timedelta(days=2), "webhook")
    db.commit()
    assert db.scalar(select(func.count()).select_from(ScoringRun)) == 0
    sign_in(client, score_key)
    html = client.get("/app").text
    drawn = charts_in(html)  # the 30 and the 90 days' charts: the 20 days since it began
    assert [[c.vertices(f"trend-{state}") for state in STATES] for c in drawn] == [[20] * 5] * 2
    table = html.split('id="trend"')[1].split("</table>")[0]
    rows = [
        list(map(int, re.findall(r'class="num">(\d+)<', row))) for row in table.split("<tr>")[2:]
    ]
    assert len(rows) == 20 + 1  # the history begins 20 days ago; the first row is now
    shown = {state: int(n) for state, n in re.findall(r'data-state="(\w+)">(\d+)<', html)}
    assert rows[0] == [shown[state] for state in STATES] == [0, 1, 2, 0, 0]
    assert rows[-1] == [1, 0, 0, 0, 0]  # the end of the day the history begins on
    assert 'id="history-begins"' in html


def _summaries(db: Session) -> dict[date, datetime | None]:
    db.expire_all()
    return dict(db.execute(select(HistoryDay.day, HistoryDay.summarized_at)).all())


def _summarized_days(db: Session, now: datetime) -> set[date]:
    """The days over from the day after the one the history begins on (the trend's first
    point is the end of that day) to yesterday."""
    begins = history_days.first_change(db)
    assert begins is not None
    first = begins.date()
    return {first + timedelta(days=k) for k in range(1, (now.date() - first).days)}


def test_the_summaries_are_made_once_and_reused(db: Session, now: datetime) -> None:
    _random_history(db, now, customers=30, days=40, seed=5)
    first = _trend(db, now)
    made = {day: when for day, when in _summaries(db).items() if when is not None}
    assert set(made) == _summarized_days(db, now)
    assert set(made.values()) == {now}
    later = now + timedelta(minutes=5)
    assert _trend(db, later)[:-1] == first[:-1]
    assert {day: when for day, when in _summaries(db).items() if when is not None} == made
    # Read from the summary, not recounted: a summary made wrong on purpose shows.
    move = db.scalars(select(HistoryDayMove).order_by(HistoryDayMove.id).limit(1)).one()
    db.execute(update(HistoryDayMove).where(HistoryDayMove.id == move.id).values(customers=1000))
    db.commit()
    assert _trend(db, later) != first


def test_changes_today_and_on_a_summarized_day_count_at_once(db: Session, now: datetime) -> None:
    _random_history(db, now, customers=30, days=40, seed=7)
    _trend(db, now)
    made = _summaries(db)
    # Today, by the API; and a nightly run as of four days ago (a backfill) stored now.
    _change(db, "t-001", "loyal", now, "api")
    back = now - timedelta(days=4)
    # Customers whose last change is older, so the backfill is their newest change.
    quiet = db.scalars(
        select(Customer)
        .where(Customer.scored_at < back, Customer.state != "deciding")
        .order_by(Customer.customer_id)
        .limit(3)
    ).all()
    assert len(quiet) == 3
    for customer in quiet:
        _change(db, customer.customer_id, "deciding", back, "rescore")
    db.commit()
    assert made[back.date()] == now
    assert _summaries(db)[back.date()] is None  # the writer put that day out of date
    later = now + timedelta(minutes=1)
    trend = _trend(db, later)
    remade = _summaries(db)
    assert remade[back.date()] == later
    assert {d: w for d, w in remade.items() if d != back.date()} == {
        d: w for d, w in made.items() if d != back.date()
    }
    for at, counts in trend:
        assert counts == _replayed(db, at), at


def test_a_day_not_settled_yet_is_counted_but_not_summarized(db: Session, now: datetime) -> None:
    _random_history(db, now, customers=20, days=10, seed=9)
    just_after_midnight = history_days.start_of(now.date() + timedelta(days=1)) + timedelta(
        minutes=2
    )
    trend = _trend(db, just_after_midnight)
    assert _summaries(db).get(now.date()) is None  # a late commit may still be dated then
    assert len(_summaries(db)) > 5
    for at, counts in trend:
        assert counts == _replayed(db, at), at


def test_readers_at_the_same_time_summarize_each_day_once(
    db_engine: Engine, db: Session, now: datetime
) -> None:
    _random_history(db, now, customers=40, days=30, seed=11)
    sessions = make_sessionmaker(db_engine)
    days = [now.date() - timedelta(days=k) for k in range(1, 31)]
    done: list[int] = []
    errors: list[BaseException] = []

    def summarize() -> None:
        try:
            with sessions() as session:
                done.append(history_days.summarize_missing(session, days, now=now))
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    readers = [threading.Thread(target=summarize) for _ in range(3)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert not errors
    assert sum(done) == len(days)
    _assert_summaries_match_history(db, days)


def _assert_summaries_match_history(db: Session, days: Sequence[date]) -> None:
    summarized = history_days.summarized_moves(db, min(days))
    for day in days:
        start = history_days.start_of(day)
        assert summarized[day] == history_days.count_moves(db, start, start + timedelta(days=1))


def test_a_kept_trend_holds_through_changes_today_and_is_redone_after_a_back_dated_one(
    db: Session, now: datetime
) -> None:
    _random_history(db, now, customers=30, days=40, seed=13)
    kept: TtlCache[Trend] = TtlCache(TREND_KEPT_SECONDS, time.monotonic)
    first = read_trend(db, now=now, days=90, kept=kept)
    later = now + timedelta(minutes=1)
    _change(db, "t-002", "loyal", later, "api")  # today: the ends of days do not move
    db.commit()
    assert read_trend(db, now=later, days=90, kept=kept) == first
    assert read_trend(db, now=later, days=90) == first  # kept, and right to be

    back = now - timedelta(days=3)
    quiet = db.scalars(  # whose last change is older, so the back-dated one is their newest
        select(Customer)
        .where(Customer.scored_at < back, Customer.state != "intent")
        .order_by(Customer.customer_id)
        .limit(2)
    ).all()
    assert quiet
    for customer in quiet:
        _change(db, customer.customer_id, "intent", back, "rescore")
    db.commit()
    redone = read_trend(db, now=later, days=90, kept=kept)
    assert redone != first
    assert redone == read_trend(db, now=later, days=90)
    for point in redone.points:
        assert point.per_state == _replayed(db, point.as_of), point.as_of
