"""Outbound notifications: signed, retried with backoff, dead after the last try, retryable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_sessionmaker
from app.notifications.delivery import DeliveryStats, backoff_seconds, deliver_due, send
from app.tables import Notification, NotificationDelivery
from tests.app.notifications.receivers import OUTBOUND, Receiver, Recorder, Trickler
from tests.app.waiting import eventually


def add_notification(db: Session, notification_id: str = "msg_n1") -> None:
    db.add(
        Notification(
            notification_id=notification_id,
            customer_id="acme",
            payload={"customer_id": "acme", "old_state": "intent", "new_state": "deciding"},
            created_at=datetime.now(UTC),
        )
    )
    db.commit()


def worker_settings(settings: Settings, url: str, attempts: int) -> Settings:
    return settings.model_copy(
        update={
            "subscribers": [url],
            "outbound_secret": OUTBOUND,
            "delivery_max_attempts": attempts,
            "delivery_backoff_seconds": 0.0,
        }
    )


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    waits = [backoff_seconds(n, 2.0, rng) for n in (1, 2, 3, 20)]
    assert 1.0 <= waits[0] <= 3.0
    assert 2.0 <= waits[1] <= 6.0
    assert 4.0 <= waits[2] <= 12.0
    assert waits[3] <= 3600 * 1.5


def test_notification_is_retried_until_the_receiver_accepts_it(
    db: Session, settings: Settings, receiver: Receiver
) -> None:
    add_notification(db)
    sessions = make_sessionmaker(db.get_bind())  # type: ignore[arg-type]
    config = worker_settings(settings, receiver.url, attempts=5)
    totals = [deliver_due(sessions, config) for _ in range(4)]
    assert receiver.calls == 3
    assert [a[0] for a in receiver.accepted] == ["msg_n1"]  # one stable webhook-id
    assert receiver.accepted[0][1]["new_state"] == "deciding"
    assert sum(t.delivered for t in totals) == 1
    assert sum(t.failed for t in totals) == 2
    delivery = db.scalars(select(NotificationDelivery)).one()
    db.refresh(delivery)
    assert delivery.delivered_at is not None
    assert delivery.attempts == 3


def test_delivery_goes_dead_and_an_admin_can_retry_it(
    db: Session,
    settings: Settings,
    receiver: Receiver,
    client: TestClient,
    admin_key: dict[str, str],
) -> None:
    add_notification(db, "msg_dead")
    sessions = make_sessionmaker(db.get_bind())  # type: ignore[arg-type]
    config = worker_settings(settings, receiver.url, attempts=2)
    for _ in range(3):
        deliver_due(sessions, config)
    assert receiver.calls == 2
    dead = client.get("/v1/notifications", params={"status": "dead"}, headers=admin_key).json()
    assert [d["notification_id"] for d in dead] == ["msg_dead"]
    assert dead[0]["last_error"] == "HTTP 500"
    retried = client.post("/v1/notifications/msg_dead/retry", headers=admin_key)
    assert retried.status_code == 200
    deliver_due(sessions, config)
    assert [a[0] for a in receiver.accepted] == ["msg_dead"]
    assert client.get("/v1/notifications", headers=admin_key).json() == []
    assert client.post("/v1/notifications/msg_none/retry", headers=admin_key).status_code == 404


def test_two_workers_send_each_notification_once_and_a_hanging_subscriber_stalls_no_one(
    db: Session, settings: Settings
) -> None:
    ids = [f"msg_{i:03d}" for i in range(30)]
    for notification_id in ids:
        add_notification(db, notification_id)
    release = threading.Event()
    quick, hanging = Recorder(), Recorder(hold=release)
    config = settings.model_copy(
        update={
            "subscribers": [hanging.url, quick.url],  # first in line: sent to first
            "outbound_secret": OUTBOUND,
            "delivery_backoff_seconds": 0.0,
            "delivery_timeout_seconds": 60.0,  # the hanging one is released, never timed out
            "delivery_concurrency": 4,
        }
    )
    sessions = make_sessionmaker(db.get_bind())  # type: ignore[arg-type]
    totals: list[DeliveryStats] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            totals.append(deliver_due(sessions, config))
        except BaseException as exc:  # surfaced by the assertions below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        eventually(
            lambda: _delivered(sessions, quick.url) == len(ids),
            lambda: f"{_delivered(sessions, quick.url)} of {len(ids)} delivered",
            seconds=30,
        )
        assert hanging.in_progress() >= 1, "the hanging subscriber is still holding sends"
        assert _delivered(sessions, hanging.url) == 0
    finally:
        release.set()
        for worker in workers:
            worker.join(timeout=60)
        quick.close()
        hanging.close()
    assert not errors
    assert not any(worker.is_alive() for worker in workers)
    assert (quick.most_at_once, hanging.most_at_once) == (1, 1)
    assert sorted(quick.received) == ids  # each exactly once: no lost or repeated send
    assert sorted(hanging.received) == ids
    assert sum(t.delivered for t in totals) == 2 * len(ids)
    assert _delivered(sessions, hanging.url) == len(ids)


def _delivered(sessions: Callable[[], Session], url: str) -> int:
    with sessions() as session:
        query = select(func.count()).where(
            NotificationDelivery.url == url, NotificationDelivery.delivered_at.is_not(None)
        )
        return session.scalar(query) or 0


def test_a_send_ends_at_its_timeout_however_slowly_the_receiver_trickles() -> None:
    trickler = Trickler()
    try:
        started = time.monotonic()
        reason = send(trickler.url, {"n": 1}, msg_id="msg_t", secret=OUTBOUND, timeout=0.5)
        took = time.monotonic() - started
    finally:
        trickler.close()
    assert reason is not None
    assert reason.startswith("TimeoutError")
    assert took < 5, took  # a per-read timeout would never end: the bound is what is tested


def test_a_redirect_is_a_failed_send_not_followed() -> None:
    trickler = Trickler(redirect=True)
    try:
        reason = send(trickler.url, {"n": 1}, msg_id="msg_r", secret=OUTBOUND, timeout=5)
    finally:
        trickler.close()
    assert reason == "HTTP 307"
