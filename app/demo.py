"""Demo data: simulated customers and their events, loaded into the configured database through
the same import path as a CRM's event log, so a newcomer sees populated pages.

The history is loaded in three slices (up to 60 days ago, 30 days ago, now), each scored as of
its end, so customers have a state history to chart and not only a state; then every customer
is scored as of now, as the nightly run would, so no score is left 60 days old.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from app.bulk import for_session
from app.scoring.advice import Advisor
from app.scoring.serving import ServingModel
from app.tables import Customer
from app.webhooks import importer, service
from training.simulation import simulate

SLICES_DAYS_AGO = (60, 30, 0)
SOURCE = "demo"
CHUNK = 2000
"""Customers rescored per transaction."""


def load_demo(
    sessions: Callable[[], Session],
    serving: ServingModel,
    advisor: Advisor,
    *,
    customers: int,
    seed: int,
    now: datetime,
) -> importer.ImportResult:
    """Simulate `customers` journeys up to `now` and import their events, slice by slice;
    running it again with the same seed adds nothing (stored events are skipped)."""
    simulation = simulate(customers, seed=seed, as_of=pd.Timestamp(now), with_events=True)
    assert simulation.events is not None  # asked for with_events
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.parquet"
        simulation.events.to_parquet(path, index=False)
        events = importer.read_events(path)
    ids = sorted({e.customer_id for e in events})
    _store_attributes(sessions, serving, simulation.snapshot, ids, now=now)
    total = importer.ImportResult(events=len(events))
    for days_ago in SLICES_DAYS_AGO:
        cutoff = now - timedelta(days=days_ago)
        done = importer.import_events(
            sessions,
            serving,
            advisor,
            [e for e in events if e.occurred_at <= cutoff],
            as_of=cutoff,
            source=SOURCE,
        )
        total.accepted += done.accepted
    for start in range(0, len(ids), CHUNK):
        with sessions() as session:
            service.refresh_customers(
                session, serving, advisor, ids[start : start + CHUNK], as_of=now
            )
            session.commit()
    total.customers = len(ids)
    return total


def _store_attributes(
    sessions: Callable[[], Session],
    serving: ServingModel,
    snapshot: pd.DataFrame,
    ids: list[str],
    *,
    now: datetime,
) -> None:
    """Keep the attributes the model reads beside events (the simulator's `segment`) on each
    customer, as a CRM's predict call would: events carry none, and without them every demo
    customer would be scored, and monitored, as one whose segment is unknown."""
    layout = serving.model.layout
    names = [n for n in (*layout.extra_numeric, *layout.extra_categorical) if n in snapshot]
    if not names:
        return
    rows = snapshot.set_index("customer_id").loc[ids, names]
    values = [
        {"id": customer_id, "attributes": _present(dict(zip(names, row, strict=True)))}
        for customer_id, row in zip(rows.index, rows.itertuples(index=False), strict=True)
    ]
    table = Customer.metadata.tables[Customer.__tablename__]
    statement = (
        update(table)
        .where(table.c.customer_id == bindparam("id"))
        .values(extras=bindparam("attributes"))
    )
    with sessions() as session:
        for_session(session).create_customers(ids, now=now)
        session.execute(statement, values)  # one statement, executed for every customer
        session.commit()


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """The known values, as plain Python (JSON) values."""
    return {k: v.item() if hasattr(v, "item") else v for k, v in values.items() if pd.notna(v)}
