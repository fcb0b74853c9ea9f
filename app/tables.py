"""SQLAlchemy tables: customers with their stored inputs and latest score, score history, keys."""

from __future__ import annotations

import zlib
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from training.features import RAW_COUNT_INPUTS

# BIGINT on PostgreSQL, but SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def shard_key(customer_id: str) -> int:
    """A stable 31-bit hash of the id: `--shard I/N` takes the customers with key % N == I.

    CRC-32 rather than Python's `hash()`, which is salted per process: every process and pod
    must put a customer in the same shard, on every night.
    """
    return zlib.crc32(customer_id.encode()) & 0x7FFFFFFF


def _shard_key_default(context: DefaultExecutionContext) -> int:
    parameters: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return shard_key(parameters["customer_id"])


class Customer(Base):
    """A customer's stored raw inputs (the feature module's inputs) and latest score.

    The counts are real columns, not a JSON blob, so the nightly job can read them in bulk and
    the work queue can filter on the score columns with an index.
    """

    __tablename__ = "customer"

    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    inputs_as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    """The time the windowed counts were measured at."""
    extras: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    objection_kind: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    action_code: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(64))
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latest_score: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at_risk: Mapped[float | None] = mapped_column(Float)
    """The latest score's at-risk probability (None: scored by a model without one)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    shard_key: Mapped[int] = mapped_column(Integer, default=_shard_key_default)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_customer_queue", "state", "confidence", "customer_id"),
        Index("ix_customer_at_risk", "at_risk", "confidence", "customer_id"),
    )


for _name in RAW_COUNT_INPUTS:
    setattr(Customer, _name, mapped_column(_name, Integer, nullable=True))


class CustomerScore(Base):
    """One row per state change (and the first score): the customer's score history."""

    __tablename__ = "customer_score"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.customer_id", ondelete="CASCADE"), index=True
    )
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    previous_state: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    probabilities: Mapped[dict[str, float]] = mapped_column(JSON)
    model_version: Mapped[str] = mapped_column(String(64))
    action_code: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_customer_score_scored_at", "scored_at", "previous_state", "state"),)
    """A time range of changes, counted per pair of states from the index alone: the funnel's
    trend counts the days it has not summarized (today, mostly) this way."""


class HistoryDay(Base):
    """A UTC day of the score history that has (or had) a summary in `history_day_move`.

    The row is what concurrent viewers agree on: the first to insert it summarizes the day. A
    change stored later with a time on that day (a backfill, a nightly run that ran past
    midnight) empties `summarized_at`, and the next viewer summarizes the day again.
    """

    __tablename__ = "history_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    summarized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the summary was made; None: out of date, to be made again."""


class HistoryDayMove(Base):
    """How many state changes of one UTC day went from one state to another."""

    __tablename__ = "history_day_move"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(ForeignKey("history_day.day", ondelete="CASCADE"), index=True)
    previous_state: Mapped[str | None] = mapped_column(String(16))
    """None: first scores."""
    state: Mapped[str] = mapped_column(String(16))
    customers: Mapped[int] = mapped_column(Integer)


class ApiKey(Base):
    """An API key, stored as its SHA-256 hash; the plain key is shown once at creation."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InteractionEvent(Base):
    """An interaction event as a CRM delivered it: append-only, stored once per source and id.

    Customers' live inputs are always recomputed from these rows with the shared feature
    module, so late or out-of-order deliveries give the same features as ordered ones.
    """

    __tablename__ = "interaction_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("source", "event_id"),)


class Notification(Base):
    """Outbox: a state change to tell subscribers about, written with the score it reports."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(String(64), unique=True)
    """Stable across retries: the `webhook-id` receivers deduplicate on."""
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationDelivery(Base):
    """One notification's delivery to one subscriber: attempts, next try, outcome."""

    __tablename__ = "notification_delivery"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(
        ForeignKey("notification.notification_id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(String(512))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(512))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    """The claim (one worker's, one round's) that may send it and record the outcome."""
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """No other worker claims it before then; a worker that died loses it then."""

    __table_args__ = (
        UniqueConstraint("notification_id", "url"),
        Index("ix_notification_delivery_due", "delivered_at", "dead_at", "next_attempt_at"),
    )


class ScoringRun(Base):
    """One nightly rescoring run: what it scored, as of when, and which states moved where.

    A run is done by `shards` processes (one by default); the counts here join theirs and are
    brought up to date whenever one of them ends.
    """

    __tablename__ = "scoring_run"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(default=False)
    rows_scored: Mapped[int] = mapped_column(Integer, default=0)
    state_changes: Mapped[int] = mapped_column(Integer, default=0)
    transitions: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON, default=dict)
    shards: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(String(512))


class ScoringRunShard(Base):
    """One process's part of a run: the customers whose `shard_key % shards == shard`."""

    __tablename__ = "scoring_run_shard"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("scoring_run.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(32))
    """The process working on it; a chunk commits only while its process is still the owner,
    so a shard taken over after a crash is never written by two processes."""
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows_scored: Mapped[int] = mapped_column(Integer, default=0)
    state_changes: Mapped[int] = mapped_column(Integer, default=0)
    transitions: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON, default=dict)
    cursor: Mapped[str | None] = mapped_column(String(128))
    """The last customer id whose chunk committed: where a resumed shard continues."""
    error: Mapped[str | None] = mapped_column(String(512))


class JobLock(Base):
    """A named lease in the database, so two runs cannot rescore at once on any machine."""

    __tablename__ = "job_lock"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """The run's live processes push this out; once it passes, the run counts as dead."""
    holder: Mapped[str] = mapped_column(String(128), default="")
    """host:pid of the process that renewed the lease last."""


class ActiveModel(Base):
    """The model every server process serves: one row, set by activation through the API.

    It overrides the registry's promoted pointer while it exists; DEALNODE_MODEL_VERSION
    (a pin) overrides both. Processes poll it, so one activation reaches every worker and
    replica, and a restart keeps it.
    """

    __tablename__ = "active_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    version: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activated_by: Mapped[str] = mapped_column(String(128))
    """The name of the admin key that activated it (its key id when it has no name)."""

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


Index("ix_customer_scored_at", Customer.scored_at)
"""Monitoring reads the customers scored most recently; without it, a scan of the table."""

Index("ix_customer_confidence", Customer.confidence.desc(), Customer.customer_id)
"""The work queue's own order (most confident first, ties by id): an unfiltered page, a
minimum confidence and a deep cursor read a range of it instead of sorting every customer."""

Index("ix_customer_action", Customer.action_code, Customer.confidence.desc(), Customer.customer_id)
"""The queue filtered by next action, in its order: a rare action is not searched for by
walking the whole order index (the state filter has `ix_customer_queue` for the same)."""

Index("ix_customer_state", Customer.state)
"""The funnel's count per state: the same GROUP BY over `ix_customer_queue` reads three
columns per customer; this one, deduplicated to a few pages per state, far fewer bytes."""


class ObservedState(Base):
    """A customer's true state as the CRM or a labelled file reported it, at a time.

    Compared with the prediction in effect at that time, these give the model's live
    precision and recall. Unique per customer, source and time, so a re-delivered webhook or
    a re-run import adds nothing.
    """

    __tablename__ = "observed_state"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    source: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("customer_id", "source", "observed_at"),)


class WebSession(Base):
    """A signed-in browser: the web app's cookie stands for an API key until it expires.

    Only the cookie token's SHA-256 is kept, as with keys, so a copy of the table signs no one
    in; a revoked key ends its sessions because every lookup joins the key.
    """

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_key.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
