"""The outbox's delivery worker: `dealnode deliver`.

At-least-once: a delivery is marked only after the receiver answered 2xx, in its own
transaction, so a crash between sending and marking sends again rather than losing it; every
send of one notification carries the same `webhook-id`, which receivers deduplicate on.
Failures retry with exponential backoff and jitter, and after the last attempt the delivery is
marked dead (visible and retryable through the API).
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from app.config import Settings
from app.tables import Notification, NotificationDelivery

MAX_BACKOFF_SECONDS = 3600.0
BATCH = 50


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
    """Give every notification a delivery row per subscriber that it does not have yet."""
    added = 0
    for url in urls:
        missing = select(Notification.notification_id).where(
            ~exists().where(
                and_(
                    NotificationDelivery.notification_id == Notification.notification_id,
                    NotificationDelivery.url == url,
                )
            )
        )
        for notification_id in session.scalars(missing):
            session.add(
                NotificationDelivery(
                    notification_id=notification_id, url=url, attempts=0, next_attempt_at=now
                )
            )
            added += 1
    session.flush()
    return added


def send(
    url: str, payload: dict[str, Any], *, msg_id: str, secret: str, timeout: float
) -> str | None:
    """POST one signed notification; None on a 2xx, else a short reason."""
    body = json.dumps(payload, separators=(",", ":"))
    now = datetime.now(UTC)
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]


def deliver_due(
    sessions: Callable[[], Session],
    settings: Settings,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    rng: random.Random | None = None,
) -> DeliveryStats:
    """Enqueue new notifications, then try every delivery that is due, once."""
    if not settings.subscribers:
        return DeliveryStats()
    if not settings.outbound_secret:
        raise ValueError("DEALNODE_OUTBOUND_SECRET is not set: notifications cannot be signed")
    rng = rng or random.Random()
    stats = DeliveryStats()
    with sessions() as session:
        enqueue(session, settings.subscribers, clock())
        session.commit()
    while True:
        with sessions() as session:
            now = clock()
            query = (
                select(NotificationDelivery, Notification.payload)
                .join(
                    Notification,
                    Notification.notification_id == NotificationDelivery.notification_id,
                )
                .where(
                    NotificationDelivery.delivered_at.is_(None),
                    NotificationDelivery.dead_at.is_(None),
                    NotificationDelivery.next_attempt_at <= now,
                )
                .order_by(NotificationDelivery.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=NotificationDelivery)
            )
            batch = session.execute(query).all()
            if not batch:
                return stats
            for delivery, payload in batch:
                error = send(
                    delivery.url,
                    payload,
                    msg_id=delivery.notification_id,
                    secret=settings.outbound_secret,
                    timeout=settings.delivery_timeout_seconds,
                )
                _record(delivery, error, settings, clock(), rng, stats)
                session.commit()  # one commit per send: at least once, never lost


def _record(
    delivery: NotificationDelivery,
    error: str | None,
    settings: Settings,
    now: datetime,
    rng: random.Random,
    stats: DeliveryStats,
) -> None:
    delivery.attempts += 1
    if error is None:
        delivery.delivered_at = now
        delivery.last_error = None
        stats.delivered += 1
        return
    delivery.last_error = error
    if delivery.attempts >= settings.delivery_max_attempts:
        delivery.dead_at = now
        stats.dead += 1
        return
    wait = backoff_seconds(delivery.attempts, settings.delivery_backoff_seconds, rng)
    delivery.next_attempt_at = now + timedelta(seconds=wait)
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
