"""The outbox's delivery worker: `dealnode deliver`.

At-least-once: a delivery is marked only after the receiver answered 2xx, in its own
transaction, so a crash between sending and marking sends again (once its lease has expired)
rather than losing it; every
send of one notification carries the same `webhook-id`, which receivers deduplicate on.
Failures retry with exponential backoff and jitter, and after the last attempt the delivery is
marked dead (visible and retryable through the API).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import random
import socket
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Integer,
    String,
    and_,
    exists,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from app.bulk import for_session
from app.config import Settings
from app.db import UTCDateTime
from app.tables import Notification, NotificationDelivery

MAX_BACKOFF_SECONDS = 3600.0
LEASE_MARGIN_SECONDS = 30.0
_ROUNDS = itertools.count()


@dataclass
class DeliveryStats:
    """What one pass of the worker did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0


def backoff_seconds(attempts: int, base: float, rng: random.Random) -> float:
    """Wait before the next try: base x 2^(attempts-1), times a jitter of 0.5 to 1.5."""
    return float(min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS) * rng.uniform(0.5, 1.5))


def enqueue(session: Session, urls: list[str], now: datetime) -> int:
    """Give every notification a delivery row per subscriber that it does not have yet.

    Workers enqueue at the same time; a row another one just added is skipped, not an error.
    """
    bulk = for_session(session)
    added = 0
    for url in urls:
        missing = select(
            Notification.notification_id,
            literal(url, String()),
            literal(0, Integer()),
            literal(now, UTCDateTime()),
        ).where(
            ~exists().where(
                and_(
                    NotificationDelivery.notification_id == Notification.notification_id,
                    NotificationDelivery.url == url,
                )
            )
        )
        columns = ["notification_id", "url", "attempts", "next_attempt_at"]
        done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            bulk.insert(NotificationDelivery).from_select(columns, missing).on_conflict_do_nothing()
        )
        added += max(done.rowcount, 0)
    return added


def send(
    url: str, payload: dict[str, Any], *, msg_id: str, secret: str, timeout: float
) -> str | None:
    """POST one signed notification; None on a 2xx, else a short reason.

    `timeout` bounds the whole send, not each socket operation: a receiver that trickles its
    answer is cut off, so a send never outlives the claim's lease. Redirects are not followed
    (a 3xx is a failure): the subscriber's URL is the one that was configured and signed for.
    """
    body = json.dumps(payload, separators=(",", ":"))
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"not an http(s) URL: {url}"[:500]
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    cut = threading.Event()
    deadline = threading.Timer(timeout, _cut, (connection, cut))
    deadline.start()
    try:
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        connection.request("POST", target, body=body.encode(), headers=headers)
        status = connection.getresponse().status
    except (http.client.HTTPException, OSError) as exc:
        if cut.is_set():
            return f"TimeoutError: no answer within {timeout:g} s"
        return f"{type(exc).__name__}: {exc}"[:500]
    finally:
        deadline.cancel()
        connection.close()
    if cut.is_set():  # what was read before the cut may parse, but the answer never came
        return f"TimeoutError: no answer within {timeout:g} s"
    return None if 200 <= status < 300 else f"HTTP {status}"


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    """End a send that has run out of time: its blocked read or write fails at once."""
    cut.set()
    if connection.sock is not None:
        with contextlib.suppress(OSError):
            connection.sock.shutdown(socket.SHUT_RDWR)


def lease_seconds(settings: Settings) -> float:
    """How long a claim keeps other workers off a delivery: longer than any one send, which
    `send` cuts off at the timeout (twice it, for the margin a busy machine needs)."""
    return 2 * settings.delivery_timeout_seconds + LEASE_MARGIN_SECONDS


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds the lease of, with what it needs to send it."""

    id: int
    notification_id: str
    url: str
    attempts: int
    payload: dict[str, Any]
    token: str


def deliver_due(
    sessions: Callable[[], Session],
    settings: Settings,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    rng: random.Random | None = None,
) -> DeliveryStats:
    """Enqueue new notifications, then send what is due until nothing is.

    Deliveries are claimed with a lease (committed before sending), so any number of workers
    never send one notification at the same time; a worker sends up to
    `delivery_concurrency` at once, at most its share per subscriber, so a subscriber that
    hangs holds only its own share until the timeout.
    """
    if not settings.subscribers:
        return DeliveryStats()
    if not settings.outbound_secret:
        raise ValueError("DEALNODE_OUTBOUND_SECRET is not set: notifications cannot be signed")
    secret = settings.outbound_secret
    rng = rng or random.Random()
    stats = DeliveryStats()
    with sessions() as session:
        enqueue(session, settings.subscribers, clock())
        session.commit()
    in_flight: dict[Future[str | None], Claimed] = {}
    with ThreadPoolExecutor(settings.delivery_concurrency, "deliver") as pool:
        while True:
            for claimed in _claim_round(sessions, settings, list(in_flight.values()), clock()):
                sending = pool.submit(
                    send,
                    claimed.url,
                    claimed.payload,
                    msg_id=claimed.notification_id,
                    secret=secret,
                    timeout=settings.delivery_timeout_seconds,
                )
                in_flight[sending] = claimed
            if not in_flight:
                return stats
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for sent in done:
                _record(sessions, in_flight.pop(sent), sent.result(), settings, clock(), rng, stats)


def _claim_round(
    sessions: Callable[[], Session], settings: Settings, busy: list[Claimed], now: datetime
) -> list[Claimed]:
    """Claim what is due, up to the free slots and each subscriber's share of them."""
    room = settings.delivery_concurrency - len(busy)
    if room <= 0:
        return []
    share = max(1, settings.delivery_concurrency // len(settings.subscribers))
    # Start each round at another subscriber: with more subscribers than slots, a fixed order
    # would leave the last ones waiting while the first have a backlog.
    start = next(_ROUNDS) % len(settings.subscribers)
    order = settings.subscribers[start:] + settings.subscribers[:start]
    per_url = Counter(c.url for c in busy)
    token = uuid.uuid4().hex
    until = now + timedelta(seconds=lease_seconds(settings))
    claimed: list[Claimed] = []
    with sessions() as session:
        for url in order:
            wanted = min(share - per_url[url], room - len(claimed))
            if wanted > 0:
                where = NotificationDelivery.url == url
                claimed += _claim(session, where, wanted, token, now, until)
        # Deliveries to URLs no longer subscribed are still owed: one more share for them.
        others = sum(n for url, n in per_url.items() if url not in settings.subscribers)
        wanted = min(share - others, room - len(claimed))
        if wanted > 0:
            where = NotificationDelivery.url.not_in(settings.subscribers)
            claimed += _claim(session, where, wanted, token, now, until)
        session.commit()  # the lease holds from here, outside any transaction
    return claimed


def _claim(
    session: Session,
    where: ColumnElement[bool],
    limit: int,
    token: str,
    now: datetime,
    until: datetime,
) -> list[Claimed]:
    """Lease up to `limit` due deliveries in one statement.

    PostgreSQL skips rows another worker is claiming (SKIP LOCKED); SQLite runs one writer at
    a time, so its single UPDATE is atomic on its own. The due conditions are checked again
    on the rows being updated, so a row claimed meanwhile is never claimed twice.
    """
    due = (
        NotificationDelivery.delivered_at.is_(None),
        NotificationDelivery.dead_at.is_(None),
        NotificationDelivery.next_attempt_at <= now,
        or_(NotificationDelivery.lease_until.is_(None), NotificationDelivery.lease_until <= now),
        where,
    )
    pick = (
        select(NotificationDelivery.id)
        .where(*due)
        .order_by(NotificationDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id.in_(pick.scalar_subquery()), *due)
        .values(claimed_by=token, lease_until=until)
        .returning(
            NotificationDelivery.id,
            NotificationDelivery.notification_id,
            NotificationDelivery.url,
            NotificationDelivery.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        return []
    ids = {row.notification_id for row in rows}
    found = session.execute(
        select(Notification.notification_id, Notification.payload).where(
            Notification.notification_id.in_(ids)
        )
    )
    payloads: dict[str, dict[str, Any]] = dict(found.all())
    return [
        Claimed(r.id, r.notification_id, r.url, r.attempts, payloads[r.notification_id], token)
        for r in rows
    ]


def _record(
    sessions: Callable[[], Session],
    claimed: Claimed,
    error: str | None,
    settings: Settings,
    now: datetime,
    rng: random.Random,
    stats: DeliveryStats,
) -> None:
    """Write a send's outcome and end the lease, unless the lease was lost meanwhile."""
    attempts = claimed.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "claimed_by": None,
        "lease_until": None,
        "last_error": error,
    }
    if error is None:
        values["delivered_at"] = now
    elif attempts >= settings.delivery_max_attempts:
        values["dead_at"] = now
    else:
        wait_for = backoff_seconds(attempts, settings.delivery_backoff_seconds, rng)
        values["next_attempt_at"] = now + timedelta(seconds=wait_for)
    with sessions() as session:
        done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(NotificationDelivery)
            .where(
                NotificationDelivery.id == claimed.id,
                NotificationDelivery.claimed_by == claimed.token,
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    if done.rowcount != 1:
        return  # another worker holds it now and will send and record it again
    if error is None:
        stats.delivered += 1
    elif "dead_at" in values:
        stats.dead += 1
    else:
        stats.failed += 1


def run_worker(
    sessions: Callable[[], Session], settings: Settings, *, once: bool, poll_seconds: float = 1.0
) -> DeliveryStats:
    """Deliver until nothing is due (`once`) or forever, polling for new notifications."""
    total = DeliveryStats()
    while True:
        stats = deliver_due(sessions, settings)
        total.delivered += stats.delivered
        total.failed += stats.failed
        total.dead += stats.dead
        if once:
            return total
        time.sleep(poll_seconds)
