"""The nightly run's reading of stored inputs (`app.nightly.chunks`), and of the events of
customers that have them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.nightly.chunks import stored_inputs
from app.tables import Customer
from tests.app.nightly.helpers import rescore, runtime_of
from training.features import RAW_COUNT_INPUTS, epoch_seconds

AS_OF = datetime(2026, 11, 1, 12, tzinfo=UTC)
LAST: list[datetime | None] = [
    AS_OF - timedelta(days=30),  # right at the 30-day cutoff: outside the window
    AS_OF - timedelta(days=30) + timedelta(microseconds=1),  # just inside it
    AS_OF - timedelta(days=90, microseconds=1),  # outside both windows
    None,  # never contacted: outside too
]


def _columns(times: list[object]) -> dict[str, list[object]]:
    columns: dict[str, list[object]] = {name: [5, 5, 5, 5] for name in RAW_COUNT_INPUTS}
    columns["first_contact_at"] = times
    columns["last_contact_at"] = times
    return columns


def _micros(when: datetime | None) -> int | None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return None if when is None else (when - epoch) // timedelta(microseconds=1)


def test_times_as_microseconds_and_as_text_give_the_offline_seconds() -> None:
    expected = epoch_seconds(pd.Series(LAST, dtype=object))
    forms: dict[str, tuple[bool, list[object]]] = {
        "microseconds": (True, [_micros(t) for t in LAST]),
        "sqlite text": (False, [t and t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in LAST]),
        "datetimes": (False, list(LAST)),
    }
    for in_us, times in forms.values():
        values = stored_inputs(_columns(times), AS_OF, times_in_us=in_us)
        np.testing.assert_array_equal(values["last_contact_at"], expected)
        np.testing.assert_array_equal(values["first_contact_at"], expected)


def test_window_counts_are_zero_once_the_last_contact_left_the_window() -> None:
    values = stored_inputs(_columns([_micros(t) for t in LAST]), AS_OF, times_in_us=True)
    np.testing.assert_array_equal(values["visits_30d"], [0.0, 5.0, 0.0, 0.0])
    np.testing.assert_array_equal(values["visits_90d"], [5.0, 5.0, 0.0, 0.0])
    np.testing.assert_array_equal(values["visits"], [5.0, 5.0, 5.0, 5.0])


def test_customers_with_events_are_rebuilt_exactly_from_them(
    client: TestClient, db: Session
) -> None:
    from app.webhooks.schemas import CrmEvent
    from app.webhooks.service import refresh_customers, store_events
    from training.features import RAW_COUNT_INPUTS, InteractionType, raw_inputs_from_events

    runtime = runtime_of(client)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    events = [
        CrmEvent(
            event_id=f"x{n}",
            customer_id=f"e-{n % 4}",
            type=InteractionType(kind),
            occurred_at=start + timedelta(days=n),
        )
        for n, kind in enumerate(["visit", "reply", "quote", "objection", "meeting"] * 8)
    ]
    with runtime.sessions() as session:
        store_events(session, events, source="events", now=start + timedelta(days=60))
        refresh_customers(
            session,
            runtime.serving,
            runtime.advisor,
            [f"e-{i}" for i in range(4)],
            as_of=start + timedelta(days=60),
        )
        session.commit()
    later = start + timedelta(days=80)
    rescore(runtime, as_of=later)
    frame = pd.DataFrame(
        [
            {"customer_id": e.customer_id, "type": e.type.value, "occurred_at": e.occurred_at}
            for e in events
        ]
    )
    expected = raw_inputs_from_events(frame, later)
    db.expire_all()
    for customer in db.scalars(select(Customer)):
        row = expected.loc[customer.customer_id].to_dict()
        assert [getattr(customer, n) for n in RAW_COUNT_INPUTS] == [
            int(row[n]) for n in RAW_COUNT_INPUTS
        ]
