"""The work queue as CSV, for a spreadsheet: the page's filters and order, every page of it."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from app.customers import service as customer_service
from app.customers.service import QueueFilter, QueueOrder

COLUMNS = (
    "customer_id",
    "state",
    "confidence",
    "top_reason",
    "action_code",
    "action_title",
    "urgency",
    "due_date",
    "at_risk",
)
MAX_ROWS = 50_000
"""A spreadsheet's worth; a bigger export is a job for the API's pages."""


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting like a formula would run as one in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def queue_csv(session: Session, *, where: QueueFilter, order: QueueOrder, page_size: int) -> str:
    """The queue's rows (up to MAX_ROWS) as CSV text, header first, read a page at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    cursor: str | None = None
    written = 0
    while written < MAX_ROWS:
        page = customer_service.list_queue(
            session, where=where, limit=page_size, cursor=cursor, order=order
        )
        for item in page.items:
            row = item.model_dump()
            writer.writerow([_cell(row[name]) for name in COLUMNS])
        written += len(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return out.getvalue()
