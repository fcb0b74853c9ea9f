"""`dealnode import events FILE`: load a historical event log through the webhook code path.

Events go through the same validation, store and refresh as a live delivery, a chunk of
customers per transaction, so an imported history and a replayed one end up identical; an
import that stops half-way can simply be run again (stored events are skipped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.input_files import read_records, row_error
from app.scoring.advice import Advisor
from app.scoring.serving import ServingModel
from app.webhooks import service
from app.webhooks.schemas import CrmEvent

REQUIRED = ("event_id", "customer_id", "type", "occurred_at")
ATTRIBUTES = ("objection_kind", "quote_value")


@dataclass
class ImportResult:
    """Totals of one import."""

    events: int = 0
    accepted: int = 0
    customers: int = 0


def read_events(path: Path) -> list[CrmEvent]:
    """Read and validate an event log; DataError names the row and column."""
    events = []
    for row, record in enumerate(read_records(path, REQUIRED, time_column="occurred_at"), 1):
        attributes = {k: record[k] for k in ATTRIBUTES if k in record and pd.notna(record[k])}
        try:
            events.append(
                CrmEvent(
                    event_id=str(record["event_id"]),
                    customer_id=str(record["customer_id"]),
                    type=record["type"],
                    occurred_at=record["occurred_at"],
                    attributes=attributes,
                )
            )
        except ValidationError as exc:
            raise row_error(path, row, exc) from None
    return events


def import_events(
    sessions: Callable[[], Session],
    serving: ServingModel,
    advisor: Advisor,
    events: list[CrmEvent],
    *,
    as_of: datetime,
    customers_per_chunk: int = 2000,
    source: str = "import",
) -> ImportResult:
    """Store and apply `events`, one transaction per chunk of customers."""
    by_customer: dict[str, list[CrmEvent]] = {}
    for event in events:
        by_customer.setdefault(event.customer_id, []).append(event)
    ids = sorted(by_customer)
    result = ImportResult(events=len(events))
    for start in range(0, len(ids), customers_per_chunk):
        chunk = ids[start : start + customers_per_chunk]
        batch: list[Any] = [e for customer in chunk for e in by_customer[customer]]
        with sessions() as session:
            new = service.store_events(session, batch, source=source, now=as_of)
            touched = sorted({e.customer_id for e in new})
            service.refresh_customers(session, serving, advisor, touched, as_of=as_of)
            session.commit()
        result.accepted += len(new)
        result.customers += len(touched)
    return result
