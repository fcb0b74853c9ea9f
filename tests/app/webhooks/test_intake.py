"""Group commit: deliveries that arrive together share a transaction, and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.runtime import Runtime
from app.tables import Customer, InteractionEvent
from app.webhooks import service
from app.webhooks.intake import Intake
from app.webhooks.schemas import CrmEvent, DeliveryRead
from training.features import InteractionType

NOW = datetime(2026, 11, 20, tzinfo=UTC)
VISITS = "visits"  # a column made from the feature list, so mypy does not know it


def crm_event(event_id: str, customer: str, hours: int = 1) -> CrmEvent:
    return CrmEvent(
        event_id=event_id,
        customer_id=customer,
        type=InteractionType.VISIT,
        occurred_at=NOW - timedelta(hours=hours),
    )


def intake_of(client: TestClient, at_once: int = 1) -> Intake:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return Intake(
        runtime.sessions, runtime.serving, runtime.advisor, clock=lambda: NOW, at_once=at_once
    )


def deliver_together(
    intake: Intake, deliveries: Sequence[Sequence[CrmEvent]]
) -> list[DeliveryRead | BaseException]:
    """Hand every delivery to the intake in the same event-loop turn, as a busy server would."""

    async def all_at_once() -> list[Any]:
        return await asyncio.gather(
            *(intake.apply("events", events) for events in deliveries), return_exceptions=True
        )

    return asyncio.run(all_at_once())


def stored_ids(db: Session) -> list[str]:
    db.expire_all()
    return sorted(db.scalars(select(InteractionEvent.event_id)))


def test_deliveries_arriving_together_share_one_transaction(
    client: TestClient, db: Session
) -> None:
    intake = intake_of(client)
    assert deliver_together(intake, [[crm_event("old", "z", hours=5)]])[0] == DeliveryRead(
        accepted=1, duplicates=0, ignored=0, customers=1, state_changes=0
    )
    deliveries = [[crm_event(f"e{n}", f"c{n}")] for n in range(8)]
    deliveries.append([crm_event("e3", "c3")])  # the same event as delivery 3, sent twice
    deliveries.append([crm_event("old", "z", hours=5), crm_event("e9", "z")])

    reads = deliver_together(intake, deliveries)

    # Every delivery was waiting before the first transaction began: one transaction for all.
    assert intake.transactions == 2
    assert all(isinstance(read, DeliveryRead) for read in reads)
    accepted = [read.accepted for read in reads if isinstance(read, DeliveryRead)]
    duplicates = [read.duplicates for read in reads if isinstance(read, DeliveryRead)]
    assert accepted == [1] * 8 + [0, 1]
    assert duplicates == [0] * 8 + [1, 1]
    assert stored_ids(db) == sorted([f"e{n}" for n in range(8)] + ["e9", "old"])
    customer = db.get(Customer, "z")
    assert customer is not None
    assert getattr(customer, VISITS) == 2  # the old event and the new one, each counted once


def test_a_failing_delivery_fails_alone(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = intake_of(client)
    refresh = service.refresh_customers

    def poisoned(
        session: Session, serving: Any, advisor: Any, ids: Sequence[str], **kwargs: Any
    ) -> set[str]:
        if "poison" in ids:
            raise RuntimeError("this customer breaks the transaction")
        return refresh(session, serving, advisor, ids, **kwargs)

    monkeypatch.setattr(service, "refresh_customers", poisoned)
    reads = deliver_together(
        intake,
        [[crm_event("a", "good-1")], [crm_event("p", "poison")], [crm_event("b", "good-2")]],
    )

    assert isinstance(reads[0], DeliveryRead)
    assert reads[0].accepted == 1
    assert isinstance(reads[1], RuntimeError)
    assert isinstance(reads[2], DeliveryRead)
    assert reads[2].accepted == 1
    assert stored_ids(db) == ["a", "b"]  # the failed group stored nothing; each retried alone
    assert intake.transactions == 2


def test_events_from_the_future_are_refused_before_joining_a_group(client: TestClient) -> None:
    intake = intake_of(client)
    future = CrmEvent(
        event_id="late",
        customer_id="c",
        type=InteractionType.VISIT,
        occurred_at=NOW + timedelta(hours=1),
    )
    reads = deliver_together(intake, [[crm_event("fine", "c")], [future]])
    assert isinstance(reads[0], DeliveryRead)
    assert reads[0].accepted == 1
    assert "0.occurred_at is in the future" in str(reads[1])


def test_groups_in_flight_together_count_every_event_once(client: TestClient, db: Session) -> None:
    """Two transactions at once over the same few customers, deliveries arriving in waves
    (some sent twice): each event is stored once and each customer counts all of its own."""
    intake = intake_of(client, at_once=2)
    deliveries = [[crm_event(f"e{n}", f"c{n % 5}", hours=n % 48 + 1)] for n in range(60)]
    resent = deliveries[::7]

    async def in_waves() -> list[Any]:
        pending = []
        for n, events in enumerate(deliveries + resent):
            pending.append(asyncio.ensure_future(intake.apply("events", events)))
            if n % 6 == 5:
                await asyncio.sleep(0.01)  # the next wave arrives while groups are in flight
        return await asyncio.gather(*pending)

    reads = asyncio.run(in_waves())

    assert sum(read.accepted for read in reads) == 60
    assert sum(read.duplicates for read in reads) == len(resent)
    assert 1 < intake.transactions < len(deliveries)
    assert len(stored_ids(db)) == 60
    for k in range(5):
        customer = db.get(Customer, f"c{k}")
        assert customer is not None
        assert getattr(customer, VISITS) == 12


def test_a_state_change_counts_once_in_a_group(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deliveries of one group move the same customer: one change, told to the first."""
    intake = intake_of(client)
    refresh = service.refresh_customers

    def moved(
        session: Session, serving: Any, advisor: Any, ids: Sequence[str], **kwargs: Any
    ) -> set[str]:
        refresh(session, serving, advisor, ids, **kwargs)
        return {"x"}  # as if x's state had changed

    monkeypatch.setattr(service, "refresh_customers", moved)
    reads = deliver_together(intake, [[crm_event("a", "x")], [crm_event("b", "x")]])
    assert [read.state_changes for read in reads if isinstance(read, DeliveryRead)] == [1, 0]


def test_an_id_given_twice_is_stored_and_returned_as_its_first_copy(
    client: TestClient, db: Session
) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        new = service.store_events(
            session, [crm_event("d", "first"), crm_event("d", "second")], source="import", now=NOW
        )
        session.commit()
    assert [e.customer_id for e in new] == ["first"]
    db.expire_all()
    assert list(db.scalars(select(InteractionEvent.customer_id))) == ["first"]
