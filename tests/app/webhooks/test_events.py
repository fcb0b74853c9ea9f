"""Signed inbound events: stored once, applied in any order, rejected cleanly when wrong."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from app.tables import Customer, InteractionEvent
from tests.app.conftest import EVENTS_SECRET, OLD_EVENTS_SECRET
from training.features import RAW_COUNT_INPUTS, TIME_INPUTS, raw_inputs_from_events
from training.simulation import simulate

URL = "/v1/webhooks/events"


def signed(
    body: bytes, *, secret: str = EVENTS_SECRET, msg_id: str = "msg_1", at: datetime | None = None
) -> dict[str, str]:
    """Headers as a Standard Webhooks sender makes them."""
    when = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def event(n: int, customer: str = "acme", kind: str = "visit", **extra: Any) -> dict[str, Any]:
    when = datetime(2026, 11, 10, tzinfo=UTC) + timedelta(hours=n)
    return {
        "event_id": f"ev-{n}",
        "customer_id": customer,
        "type": kind,
        "occurred_at": when.isoformat(),
        **extra,
    }


def post(client: TestClient, payload: Any, **kwargs: Any) -> Any:
    body = json.dumps(payload).encode()
    return client.post(URL, content=body, headers=signed(body, **kwargs))


def stored_events(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(InteractionEvent)) or 0)


def test_signed_delivery_is_stored_applied_and_scored(client: TestClient, db: Session) -> None:
    payload = [
        event(1),
        event(2, kind="quote"),
        event(3, kind="objection", attributes={"objection_kind": "price"}),
    ]
    response = post(client, payload)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    customer = db.get(Customer, "acme")
    assert customer is not None
    assert [getattr(customer, n) for n in ("visits", "quotes", "objections")] == [1, 1, 1]
    assert customer.objection_kind == "price"
    assert customer.state is not None
    assert customer.last_contact_at == datetime(2026, 11, 10, 3, tzinfo=UTC)


def test_duplicate_delivery_changes_nothing(client: TestClient, db: Session) -> None:
    assert post(client, [event(1), event(2)]).json()["accepted"] == 2
    before = db.get(Customer, "acme")
    assert before is not None
    version = before.row_version
    again = post(client, [event(2), event(1)], msg_id="msg_retry")
    assert again.status_code == 200
    assert again.json() == {
        "accepted": 0,
        "duplicates": 2,
        "ignored": 0,
        "customers": 0,
        "state_changes": 0,
    }
    db.expire_all()
    after = db.get(Customer, "acme")
    assert after is not None
    assert after.row_version == version
    assert stored_events(db) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"secret": "whsec_" + "A" * 43 + "="},
        {"skew": timedelta(minutes=-6)},
        {"skew": timedelta(minutes=6)},
    ],
)
def test_bad_or_stale_signature_is_401_and_stores_nothing(
    client: TestClient, db: Session, headers: dict[str, Any]
) -> None:
    if "skew" in headers:  # computed now, not when the test was collected
        headers = {"at": datetime.now(UTC) + headers["skew"]}
    response = post(client, [event(1)], **headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid signature"
    assert stored_events(db) == 0


def test_unsigned_or_tampered_body_is_401(client: TestClient, db: Session) -> None:
    body = json.dumps([event(1)]).encode()
    assert client.post(URL, content=body).status_code == 401
    headers = signed(body)
    tampered = body.replace(b"visit", b"quote")
    assert client.post(URL, content=tampered, headers=headers).status_code == 401
    assert stored_events(db) == 0


def test_a_rotated_out_secret_still_verifies(client: TestClient) -> None:
    assert post(client, event(1), secret=OLD_EVENTS_SECRET).status_code == 200


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ([event(1, kind="call")], "type"),
        ([event(1), {"event_id": "x", "customer_id": "a"}], "1.type"),
        ([{**event(1), "occurred_at": "2026-11-10T10:00:00"}], "occurred_at"),
        ([{**event(1), "occurred_at": "2199-01-01T00:00:00Z"}], "future"),  # in range, ahead
        ([], "no events"),
    ],
)
def test_malformed_events_are_422_naming_the_problem(
    client: TestClient, db: Session, payload: Any, named: str
) -> None:
    response = post(client, payload)
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert stored_events(db) == 0


def test_unknown_type_is_named(client: TestClient) -> None:
    response = post(client, [event(1, kind="call")])
    assert "'call'" in response.json()["detail"]


def test_signed_garbage_is_a_json_error(client: TestClient) -> None:
    body = b"{not json"
    response = client.post(URL, content=body, headers=signed(body))
    assert response.status_code == 422
    assert "malformed JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (
            b'[{"event_id": "\\ud800", "customer_id": "c", "type": "visit", '
            b'"occurred_at": "2026-11-10T00:00:00Z"}]',
            "malformed JSON",
        ),
        (
            b'[{"event_id": "e", "customer_id": "c", "type": "visit", '
            b'"occurred_at": "2026-11-10T00:00:00Z", "attributes": {"quote_value": NaN}}]',
            "malformed JSON",
        ),
        (
            b'[{"event_id": "a\\u0000b", "customer_id": "c", "type": "visit", '
            b'"occurred_at": "2026-11-10T00:00:00Z"}]',
            "0.event_id",
        ),
    ],
)
def test_what_no_database_could_store_is_refused_not_a_500(
    client: TestClient, db: Session, body: bytes, named: str
) -> None:
    response = client.post(URL, content=body, headers=signed(body))
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert stored_events(db) == 0


def test_an_integer_beyond_64_bits_is_kept_as_a_number(client: TestClient, db: Session) -> None:
    payload = [event(1, attributes={"quote_value": 10**20})]
    assert post(client, payload).status_code == 200
    stored = db.scalars(select(InteractionEvent.attributes)).one()
    assert stored["quote_value"] == 1e20


@pytest.mark.slow
def test_replayed_log_out_of_order_with_duplicates_matches_offline_features(
    client: TestClient, db: Session
) -> None:
    """Parity: live features from shuffled, duplicated deliveries equal the offline pipeline's.

    400 customers give some 15,000 events in 170 deliveries: every event type, customers with
    hundreds of events, and duplicates landing before and after their originals.
    """
    customers = 400
    sim = simulate(customers, seed=21)
    assert sim.events is not None
    client.app.state.runtime.intake.clock = lambda: sim.as_of.to_pydatetime()  # type: ignore[attr-defined]
    log = sim.events[["event_id", "customer_id", "type", "occurred_at"]].copy()
    log["occurred_at"] = log["occurred_at"].map(lambda t: t.isoformat())
    records = log.to_dict("records")
    rng = random.Random(5)
    deliveries = records + rng.sample(records, len(records) // 10)
    rng.shuffle(deliveries)
    for start in range(0, len(deliveries), 100):
        response = post(client, deliveries[start : start + 100], msg_id=f"msg_{start}")
        assert response.status_code == 200, response.text

    ids = sim.snapshot["customer_id"]
    offline = raw_inputs_from_events(sim.events, sim.as_of, pd.Index(ids))
    active = offline.index[offline["last_contact_at"].notna()]  # customers with any event
    rows = {c.customer_id: c for c in db.scalars(select(Customer))}
    assert len(active) >= 0.9 * customers
    assert set(rows) == set(active)
    mismatches = 0
    for customer_id in active:
        stored, expected = rows[customer_id], offline.loc[customer_id]
        counts_equal = all(getattr(stored, n) == int(expected[n]) for n in RAW_COUNT_INPUTS)
        times_equal = all(
            getattr(stored, n) == pd.Timestamp(expected[n]).to_pydatetime() for n in TIME_INPUTS
        )
        mismatches += not (counts_equal and times_equal)
    assert mismatches == 0
    assert stored_events(db) == len(records)


def first_state(db: Session, customer_id: str) -> str:
    from app.tables import CustomerScore

    history = db.scalars(
        select(CustomerScore)
        .where(CustomerScore.customer_id == customer_id)
        .order_by(CustomerScore.id)
    )
    return next(iter(history)).state


def test_a_state_change_writes_one_outbox_notification(client: TestClient, db: Session) -> None:
    from app.tables import Notification

    first = post(client, [event(1, customer="turn")]).json()
    assert first["state_changes"] == 0  # a first score is not a change
    busy = [
        event(n, customer="turn", kind=kind)
        for n, kind in enumerate(
            ["purchase", "purchase", "meeting", "reply", "visit"] * 4, start=10
        )
    ]
    second = post(client, busy, msg_id="msg_2").json()
    assert second["state_changes"] == 1
    [note] = db.scalars(select(Notification))
    customer = db.get(Customer, "turn")
    assert customer is not None
    assert note.payload["new_state"] == customer.state
    assert note.payload["old_state"] == first_state(db, "turn")
    assert note.payload["next_action"]["code"] == customer.action_code


def test_concurrent_deliveries_for_one_customer_leave_inputs_with_every_event(
    client: TestClient, db: Session
) -> None:
    """Two senders deliver events of the same customer at the same time, round after round:
    whichever commits last must have read the other's events (rows locked before reading)."""
    import threading

    from app.runtime import Runtime
    from app.webhooks.schemas import CrmEvent
    from app.webhooks.service import refresh_customers, store_events

    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    now = datetime(2026, 11, 20, tzinfo=UTC)
    errors: list[BaseException] = []

    def deliver(n: int) -> None:
        try:
            with runtime.sessions() as session:
                new = store_events(
                    session, [CrmEvent.model_validate(event(n, "shared"))], source="events", now=now
                )
                refresh_customers(
                    session,
                    runtime.serving,
                    runtime.advisor,
                    [e.customer_id for e in new],
                    as_of=now,
                )
                session.commit()
        except BaseException as exc:  # surfaced below, in the test's own thread
            errors.append(exc)

    for round_ in range(15):
        senders = [threading.Thread(target=deliver, args=(2 * round_ + i,)) for i in (0, 1)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=30)
    assert errors == []
    log = pd.DataFrame(
        [
            {"customer_id": "shared", "type": "visit", "occurred_at": event(n)["occurred_at"]}
            for n in range(30)
        ]
    )
    expected = raw_inputs_from_events(log, now).loc["shared"].to_dict()
    customer = db.get(Customer, "shared")
    assert customer is not None
    assert [getattr(customer, n) for n in RAW_COUNT_INPUTS] == [
        int(expected[n]) for n in RAW_COUNT_INPUTS
    ]
    assert customer.last_contact_at == pd.Timestamp(expected["last_contact_at"]).to_pydatetime()
