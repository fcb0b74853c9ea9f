"""A large customer base for the page benchmark, built from the model's real output.

A few thousand simulated customers (the *template*) are scored with the real `Advisor` as of
four times a day apart: their first score, then three nightly runs. Customer `i` of the base
is template customer `i % T` under a new id, so every stored document, reason and next action
is one the model wrote. The runs' transitions count the template's moves once per copy, every
customer gets its score history, and the customers whose pages the benchmark opens get their
template's events.

The history reaches back past the funnel's 90-day trend: before the template's first score,
a fifth of the customers change state each night (`EARLIER_NIGHTS`), each going back and forth
between its first scored state and a neighbouring one, so the trend reads as many changes a
day as a large base's nightly runs write, and every customer's rows still chain up to its
state now. Today, a fifth of the base also changes state before the last scoring, as a nightly run
early in the day would: the part of the trend counted live.

Rows go in through the app's bulk interface (one statement over a JSON document on
PostgreSQL), a chunk per transaction, so memory stays bounded whatever the size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from app.bulk import for_session
from app.bulk.rows import EventRow
from app.config import Settings
from app.db import Base, make_sessionmaker, stored_time
from app.scoring.actions import load_playbook
from app.scoring.advice import Advisor
from app.scoring.results import ScoredCustomers
from app.scoring.serving import ServingModel
from app.scoring.state_changes import HISTORY_COLUMNS
from app.tables import (
    Customer,
    CustomerScore,
    InteractionEvent,
    Notification,
    NotificationDelivery,
    ScoringRun,
    ScoringRunShard,
    shard_key,
)
from app.webhooks.schemas import CrmEvent, as_payload
from benchmarks.common import timed
from training.features import RAW_COUNT_INPUTS, STATES, raw_values
from training.prediction import RawInputs
from training.simulation import simulate

TEMPLATE = 10_000
"""Customers scored for real; the base repeats them under new ids."""
SCORED_DAYS_AGO = (3, 2, 1, 0)
"""The first score, then one nightly run a day."""
EARLIER_NIGHTS = 92
"""Nights of history before the template's first score (3 days ago), back to 95 days ago: every
customer has had its first score by the start of the funnel's 90-day trend."""
CHANGING_EVERY = 5
"""On each earlier night k the copies of template customers `j % 5 == k % 5` change state:
a fifth of the base, 200,000 of 1,000,000 customers."""
OPENED = 100
"""Customers whose pages are opened; they get their template's events and history."""
DEAD_DELIVERIES = 60
CHUNK = 20_000
"""Customers per statement and transaction."""
RUN_PREFIX = "pagebench-"
SOURCE = "pagebench"
_CUSTOMER_COLUMNS = (
    "customer_id",
    "shard_key",
    *RAW_COUNT_INPUTS,
    "first_contact_at",
    "last_contact_at",
    "inputs_as_of",
    "extras",
    "objection_kind",
    "state",
    "confidence",
    "action_code",
    "model_version",
    "scored_at",
    "latest_score",
    "at_risk",
    "created_at",
    "updated_at",
    "row_version",
)


def customer_id(i: int) -> str:
    """The id of the base's i-th customer."""
    return f"pb-{i:07d}"


def opened(n: int) -> list[int]:
    """The customers whose pages are opened: spread evenly over the base."""
    step = max(1, n // OPENED)
    return list(range(0, n, step))[:OPENED]


@dataclass(frozen=True)
class Template:
    """The scored template: what each of its customers looks like in every table."""

    frame: pd.DataFrame
    """The simulation's snapshot: ids, segments and raw inputs."""
    events: pd.DataFrame
    objection_kinds: list[str | None]
    scored_at: list[datetime]
    """When each scoring ran, oldest first; the last is the customers' current score."""
    scores: list[ScoredCustomers]

    def __len__(self) -> int:
        return len(self.frame)

    def moves(self, run: int, n: int) -> dict[str, dict[str, int]]:
        """How many of the base's `n` customers went from each state to each state in `run`."""
        copies = np.full(len(self), n // len(self))
        copies[: n % len(self)] += 1
        moved: Counter[tuple[str, str]] = Counter()
        before, after = self.scores[run - 1].states, self.scores[run].states
        for old, new, count in zip(before, after, copies.tolist(), strict=True):
            moved[old, new] += count
        return {
            old: {new: moved[old, new] for new in STATES if moved[old, new]}
            for old in STATES
            if any(moved[old, new] for new in STATES)
        }


def build_template(models: Path, settings: Settings, size: int, now: datetime) -> Template:
    """Simulate `size` customers up to three days before `now` and score them with the real
    advisor then and once a day since."""
    times = [now - timedelta(days=days) for days in SCORED_DAYS_AGO]
    simulation = simulate(size, seed=11, as_of=pd.Timestamp(times[0]), with_events=True)
    assert simulation.events is not None  # asked for with_events
    frame, events = simulation.snapshot, simulation.events
    last_kind = events.dropna(subset=["objection_kind"]).groupby("customer_id")["objection_kind"]
    kinds = last_kind.last().reindex(frame["customer_id"]).tolist()
    objection_kinds = [None if pd.isna(kind) else str(kind) for kind in kinds]
    serving = ServingModel(models)
    serving.activate()
    advisor = Advisor(
        load_playbook(settings.playbook), settings.low_confidence, settings.at_risk_threshold
    )
    inputs = RawInputs.of_columns(raw_values(frame), {"segment": frame["segment"].to_numpy()})
    scores = [
        advisor.score(serving.predictor, inputs, objection_kinds, as_of=when) for when in times
    ]
    return Template(frame, events, objection_kinds, times, scores)


@dataclass(frozen=True)
class BaseRows:
    """What a seeded base holds, counted in the database."""

    customers: int
    history: int
    events: int
    runs: int
    dead_deliveries: int


def counts(session: Session) -> BaseRows:
    """Count the base's rows."""
    dead = select(func.count()).select_from(NotificationDelivery)
    return BaseRows(
        customers=session.scalar(select(func.count()).select_from(Customer)) or 0,
        history=session.scalar(select(func.count()).select_from(CustomerScore)) or 0,
        events=session.scalar(select(func.count()).select_from(InteractionEvent)) or 0,
        runs=session.scalar(select(func.count()).select_from(ScoringRun)) or 0,
        dead_deliveries=session.scalar(dead.where(NotificationDelivery.dead_at.is_not(None))) or 0,
    )


def is_seeded(session: Session, n: int) -> bool:
    """Whether the database holds a finished base of `n` customers (its last run is written
    last, so a seeding that stopped half-way is not taken for one)."""
    last = session.get(ScoringRun, f"{RUN_PREFIX}{len(SCORED_DAYS_AGO) - 1}")
    if last is None or counts(session).customers != n:
        return False
    # A base seeded before the history reached back over the trend's 90 days is not one.
    begins = session.scalar(select(func.min(CustomerScore.scored_at)))
    return begins is not None and begins <= last.as_of - timedelta(days=EARLIER_NIGHTS)


def wipe(sessions: Callable[[], Session]) -> None:
    """Empty every table of the app, for a new base."""
    with sessions() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
        session.commit()


def seed(
    sessions: Callable[[], Session], template: Template, n: int, *, progress: bool = False
) -> None:
    """Write a base of `n` customers made from `template`, in chunks."""
    with sessions() as session:
        tails = _customer_tails(session, template)
        history = _history_tails(session, template)
        for start in range(0, n, CHUNK):
            bulk = for_session(session)
            ids = range(start, min(n, start + CHUNK))
            rows = []
            for i in ids:
                name = customer_id(i)
                rows.append((name, shard_key(name), *tails[i % len(template)]))
            bulk.insert_many("customer", _CUSTOMER_COLUMNS, rows, json=("extras", "latest_score"))
            changes = [(customer_id(i), *row) for i in ids for row in history[i % len(template)]]
            bulk.insert_many("customer_score", HISTORY_COLUMNS, changes, json=("probabilities",))
            session.commit()
            if progress and (start // CHUNK) % 10 == 9:
                print(f"  ({start + len(ids):,} customers written)", flush=True)
        _insert_events(session, template, n)
        _insert_dead_deliveries(session, n, template.scored_at[-1])
        _insert_runs(session, template, n)
        session.commit()


def _counts(row: Mapping[Hashable, Any]) -> list[int | None]:
    return [None if pd.isna(row[name]) else int(row[name]) for name in RAW_COUNT_INPUTS]


def _time(session: Session, value: Any) -> Any:
    return None if pd.isna(value) else stored_time(session, pd.Timestamp(value).to_pydatetime())


def _customer_tails(session: Session, template: Template) -> list[tuple[Any, ...]]:
    """Each template customer's columns after its id and shard key, as the database takes
    them (times already in the database's stored form, JSON as text)."""
    latest = template.scores[-1]
    when = stored_time(session, template.scored_at[-1])
    inputs_as_of = stored_time(session, template.scored_at[0])
    documents = latest.documents()
    risks = latest.at_risk_probabilities
    tails = []
    for j, record in enumerate(template.frame.to_dict("records")):
        segment = record["segment"]
        extras = {} if pd.isna(segment) else {"segment": segment}
        tails.append(
            (
                *_counts(record),
                _time(session, record["first_contact_at"]),
                _time(session, record["last_contact_at"]),
                inputs_as_of,
                orjson.dumps(extras).decode(),
                template.objection_kinds[j],
                latest.states[j],
                latest.confidence[j],
                latest.actions[j]["code"],
                latest.model_version,
                when,
                orjson.dumps(documents[j], option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                risks[j],
                inputs_as_of,
                when,
                1,
            )
        )
    return tails


def _history_tails(session: Session, template: Template) -> list[list[tuple[Any, ...]]]:
    """Each template customer's history rows after its id: its earlier nights
    (`_earlier_nights`), then each change of the template's scorings, and for a fifth of them
    a change today (`_moved_today`)."""
    history = [_earlier_nights(session, template, j) for j in range(len(template))]
    previous: list[str | None] = [rows[-1][3] if rows else None for rows in history]
    last = len(template.scores) - 1
    for run, (when, scores) in enumerate(zip(template.scored_at, template.scores, strict=True)):
        stored = stored_time(session, when)
        source = "webhook" if run == 0 else "rescore"
        for j, state in enumerate(scores.states):
            before = previous[j]
            if run == last and j % CHANGING_EVERY == 0 and before is not None:
                history[j].append(_moved_today(session, template, j, before))
                before = previous[j] = history[j][-1][3]
            if state != before:
                history[j].append(_row(stored, before, state, scores, j, source))
                previous[j] = state
    return history


def _row(
    stored: Any, previous: str | None, state: str, scores: ScoredCustomers, j: int, source: str
) -> tuple[Any, ...]:
    """A history row after its customer's id, with template customer `j`'s score."""
    probabilities = orjson.dumps(dict(zip(STATES, scores.probabilities[j], strict=True)))
    return (
        stored,
        stored,
        previous,
        state,
        scores.confidence[j],
        probabilities.decode(),
        scores.model_version,
        scores.actions[j]["code"],
        source,
    )


def _earlier_nights(session: Session, template: Template, j: int) -> list[tuple[Any, ...]]:
    """Template customer `j`'s rows before its first score: a first score on the first of its
    nights, then a change on each, back and forth between a neighbouring state and the one
    the template's first score gives it, which the last one ends in."""
    scores = template.scores[0]
    first = scores.states[j]
    other = _neighbour(first)
    start = template.scored_at[0] - timedelta(days=EARLIER_NIGHTS)
    nights = [k for k in range(EARLIER_NIGHTS) if k % CHANGING_EVERY == j % CHANGING_EVERY]
    rows: list[tuple[Any, ...]] = []
    previous: str | None = None
    for step, k in enumerate(nights):
        state = first if (len(nights) - 1 - step) % 2 == 0 else other
        when = stored_time(session, start + timedelta(days=k))
        rows.append(
            _row(when, previous, state, scores, j, "webhook" if previous is None else "rescore")
        )
        previous = state
    return rows


def _moved_today(session: Session, template: Template, j: int, state: str) -> tuple[Any, ...]:
    """A change today before the last scoring, to a neighbouring state: the trend counts
    today's part from the history itself, and a large base's nightly run early in the day
    moves a fifth of the base."""
    now = template.scored_at[-1]
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    when = stored_time(session, midnight + (now - midnight) / 2)
    return _row(when, state, _neighbour(state), template.scores[-2], j, "rescore")


def _neighbour(state: str) -> str:
    """The next state in the funnel (the one before, for the last)."""
    position = STATES.index(state)
    return STATES[position + 1] if position + 1 < len(STATES) else STATES[position - 1]


def _insert_events(session: Session, template: Template, n: int) -> None:
    """The opened customers' events: their template's, under new ids."""
    by_customer = dict(tuple(template.events.groupby("customer_id", sort=False)))
    received = template.scored_at[0]
    rows: list[EventRow] = []
    for i in opened(n):
        name = customer_id(i)
        source = template.frame["customer_id"].iloc[i % len(template)]
        mine = by_customer.get(source)
        if mine is None:
            continue
        for k, event in enumerate(mine.to_dict("records")):
            attributes: dict[str, str | float | int | bool | None] = {}
            if isinstance(event["objection_kind"], str):
                attributes["objection_kind"] = event["objection_kind"]
            if not pd.isna(event["quote_value"]):
                attributes["quote_value"] = float(event["quote_value"])
            crm = CrmEvent(
                event_id=f"{name}-{k}",
                customer_id=name,
                type=event["type"],
                occurred_at=pd.Timestamp(event["occurred_at"]).to_pydatetime(),
                attributes=attributes,
            )
            rows.append(
                {
                    "source": SOURCE,
                    "event_id": crm.event_id,
                    "customer_id": name,
                    "type": crm.type,
                    "occurred_at": crm.occurred_at,
                    "attributes": crm.attributes,
                    "payload": as_payload(crm),
                    "received_at": received,
                }
            )
    for start in range(0, len(rows), CHUNK):
        for_session(session).insert_events(rows[start : start + CHUNK], now=received)


def _insert_dead_deliveries(session: Session, n: int, now: datetime) -> None:
    """Notifications whose delivery gave up: what an admin's runs page lists."""
    for k in range(DEAD_DELIVERIES):
        notification_id = f"{SOURCE}-{k}"
        who = customer_id(k * max(1, n // DEAD_DELIVERIES) % n)
        session.add(
            Notification(
                notification_id=notification_id,
                customer_id=who,
                payload={"customer_id": who, "type": "state_changed"},
                created_at=now,
            )
        )
        session.add(
            NotificationDelivery(
                notification_id=notification_id,
                url="https://crm.example.invalid/hooks/dealnode",
                attempts=8,
                next_attempt_at=now,
                dead_at=now,
                last_error="HTTP 503 from the subscriber",
            )
        )
    session.flush()


def _insert_runs(session: Session, template: Template, n: int) -> None:
    """The nightly runs with their transitions and their one shard each, oldest first."""
    version = template.scores[-1].model_version
    for run in range(1, len(template.scores)):
        moves = template.moves(run, n)
        changes = sum(c for old, row in moves.items() for new, c in row.items() if new != old)
        when = template.scored_at[run]
        run_id = f"{RUN_PREFIX}{run}"
        finished = when + timedelta(minutes=1)
        session.add(
            ScoringRun(
                id=run_id,
                model_version=version,
                as_of=when,
                started_at=when,
                finished_at=finished,
                status="succeeded",
                rows_scored=n,
                state_changes=changes,
                transitions=moves,
            )
        )
        session.flush()  # the shard's foreign key needs its run
        session.add(
            ScoringRunShard(
                run_id=run_id,
                shard=0,
                owner=SOURCE,
                status="succeeded",
                started_at=when,
                finished_at=finished,
                rows_scored=n,
                state_changes=changes,
                transitions=moves,
            )
        )
        session.flush()


def session_of(engine: Engine) -> Session:
    """A new session on the engine (a context manager that closes it)."""
    return make_sessionmaker(engine)()


def ensure(engine: Engine, settings: Settings, n: int, *, reseed: bool) -> bool:
    """Seed a base of `n` customers unless the database holds one; whether it seeded.

    A database holding other customers is replaced only when asked (`reseed`)."""
    with session_of(engine) as session:
        if not reseed and is_seeded(session, n):
            print(f"  (reusing the base of {n:,} customers already seeded)")
            return False
        stored = counts(session).customers
    if stored and not reseed:
        raise SystemExit(
            f"the database holds {stored:,} customers, not a finished base of {n:,}; "
            "pass --reseed to replace them"
        )
    sessions = make_sessionmaker(engine)
    with timed("empty the tables"):
        wipe(sessions)
    with timed(f"simulate and score {min(TEMPLATE, n):,} template customers"):
        template = build_template(settings.models_dir, settings, min(TEMPLATE, n), now_minute())
    with timed(f"seed {n:,} customers"):
        seed(sessions, template, n, progress=True)
    with timed("analyze (and vacuum on PostgreSQL)"):
        refresh_statistics(engine)
    return True


def refresh_statistics(engine: Engine) -> None:
    """Give the planner statistics, and PostgreSQL's index-only scans a visibility map, as
    autovacuum would on a live base."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("VACUUM ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
            connection.commit()


def now_minute() -> datetime:
    """The current minute, UTC: the base's latest nightly run is as of then."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def frequencies(session: Session) -> Sequence[tuple[str, int]]:
    """Each next action's number of customers, most common first."""
    found = session.execute(
        select(Customer.action_code, func.count())
        .where(Customer.action_code.is_not(None))
        .group_by(Customer.action_code)
        .order_by(func.count().desc())
    )
    return [(str(code), int(count)) for code, count in found]
