"""Read the nightly run's customers a chunk at a time, with their inputs as of the run's time.

Columns are read untyped and converted a whole column at a time: per-value conversion
(SQLAlchemy's result processors) would cost more than the model on a million customers.
Contact times come from PostgreSQL as integer epoch microseconds, not as datetime objects,
and a chunk keeps its inputs as the arrays `feature_matrix` takes, never as a DataFrame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
from sqlalchemy import ColumnElement, Select, Text, cast, column, func, select, table
from sqlalchemy.orm import Session

from app.bulk import Bulk, for_session
from app.nightly.run_records import Shard
from training.features import (
    COUNT_INPUTS,
    RAW_COUNT_INPUTS,
    RAW_INPUTS,
    TIME_INPUTS,
    WINDOW_DAYS,
    FloatArray,
    epoch_seconds,
    epoch_seconds_of,
    raw_inputs_from_events,
    raw_values,
)

_CUSTOMER = table(
    "customer",
    *(
        column(name)
        for name in (
            "customer_id",
            "row_version",
            "shard_key",
            "state",
            "objection_kind",
            "at_risk",
            "extras",
            *TIME_INPUTS,
            *RAW_COUNT_INPUTS,
        )
    ),
)
_EVENT = table("interaction_event", column("customer_id"), column("type"), column("occurred_at"))
_READ = (
    "customer_id",
    "row_version",
    "state",
    "objection_kind",
    "at_risk",
    *TIME_INPUTS,
    *RAW_COUNT_INPUTS,
)


@dataclass
class Chunk:
    """A chunk of customers as stored, and their raw inputs as of the run's time."""

    ids: list[str]
    versions: npt.NDArray[np.int64]
    states: list[str | None]
    risks: list[float | None]
    """The at-risk probabilities as stored (None: none yet)."""
    kinds: list[str | None]
    extras: list[dict[str, Any]]
    values: dict[str, FloatArray]
    """The raw inputs in `ids` order, as `feature_matrix` takes them (times: epoch seconds)."""

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Span:
    """Where a chunk lies: the customers of `shard` with `after < customer_id <= last`."""

    after: str
    last: str
    shard: Shard


def next_span(session: Session, *, after: str, size: int, shard: Shard) -> Span | None:
    """The span of the next `size` customers of `shard` after `after` (None when done).

    Only ids are read, from the primary key's index where the database can: the process
    that walks the table stays light, and whoever reads the span does the heavy reading.
    """
    c = _CUSTOMER.c
    ids = select(c.customer_id).where(c.customer_id > after)
    if shard.count > 1:
        ids = ids.where(c.shard_key % shard.count == shard.index)
    chunk = ids.order_by(c.customer_id).limit(size).subquery()
    last = session.scalar(select(func.max(chunk.c.customer_id)))
    return None if last is None else Span(after, str(last), shard)


def read_span(session: Session, span: Span, *, as_of: datetime, with_extras: bool) -> Chunk | None:
    """The customers of `span` with their inputs as of `as_of` (None if all went meanwhile)."""
    c = _CUSTOMER.c
    bulk = for_session(session)
    query = _columns(with_extras, bulk).where(
        c.customer_id > span.after, c.customer_id <= span.last
    )
    if span.shard.count > 1:
        query = query.where(c.shard_key % span.shard.count == span.shard.index)
    rows = session.execute(query.order_by(c.customer_id)).all()
    if not rows:
        return None
    e = _EVENT.c
    events = _events(session, e.customer_id > span.after, e.customer_id <= span.last)
    return _chunk(rows, events, as_of, with_extras, bulk.times_in_us)


def reread(
    session: Session, ids: Sequence[str], *, as_of: datetime, with_extras: bool
) -> Chunk | None:
    """These customers again, freshly read (after a concurrent update)."""
    c = _CUSTOMER.c
    bulk = for_session(session)
    query = _columns(with_extras, bulk).where(c.customer_id.in_(ids)).order_by(c.customer_id)
    rows = session.execute(query).all()
    if not rows:
        return None
    events = _events(session, _EVENT.c.customer_id.in_(ids))
    return _chunk(rows, events, as_of, with_extras, bulk.times_in_us)


def _columns(with_extras: bool, bulk: Bulk) -> Select[Any]:
    columns: list[ColumnElement[Any]] = [
        bulk.contact_time(_CUSTOMER.c[name]) if name in TIME_INPUTS else _CUSTOMER.c[name]
        for name in _READ
    ]
    if with_extras:
        # As text on both databases, parsed here: one code path for SQLite and PostgreSQL.
        columns.append(cast(_CUSTOMER.c.extras, Text).label("extras"))
    return select(*columns)


def _events(session: Session, *where: Any) -> pd.DataFrame:
    e = _EVENT.c
    rows = session.execute(select(e.customer_id, e.type, e.occurred_at).where(*where)).all()
    return pd.DataFrame(rows, columns=["customer_id", "type", "occurred_at"])


def _chunk(
    rows: Sequence[Any],
    events: pd.DataFrame,
    as_of: datetime,
    with_extras: bool,
    times_in_us: bool,
) -> Chunk:
    names = _READ + (("extras",) if with_extras else ())
    columns = dict(zip(names, zip(*rows, strict=True), strict=True))
    ids = list(columns["customer_id"])
    values = stored_inputs(columns, as_of, times_in_us=times_in_us)
    if len(events):
        events = events[events["customer_id"].isin(ids)]
    if len(events):
        # Customers with events get the offline path's own aggregation of them.
        with_events = sorted(set(events["customer_id"]))
        exact = raw_values(raw_inputs_from_events(events, as_of, customer_ids=with_events))
        rows_of = pd.Index(ids).get_indexer(with_events)
        for name in RAW_INPUTS:
            values[name][rows_of] = exact[name]
    extras = [_json(v) for v in columns["extras"]] if with_extras else [{} for _ in ids]
    return Chunk(
        ids=ids,
        versions=np.array(columns["row_version"], dtype=np.int64),
        states=list(columns["state"]),
        risks=list(columns["at_risk"]),
        kinds=list(columns["objection_kind"]),
        extras=extras,
        values=values,
    )


def stored_inputs(
    columns: Mapping[str, Sequence[Any]], as_of: datetime, *, times_in_us: bool
) -> dict[str, FloatArray]:
    """Raw inputs of customers known only from API calls, moved forward to `as_of`.

    Lifetime counts and contact times stay as stored (times as epoch microseconds when
    `times_in_us`, else as the database's text or datetimes). A window's count is known to
    be zero once the last contact falls outside the window; otherwise the stored count is
    kept, the best that can be known without the events.
    """
    values = {name: np.array(columns[name], dtype=np.float64) for name in RAW_COUNT_INPUTS}
    for name in TIME_INPUTS:
        if times_in_us:  # None becomes NaN; microseconds are exact in a float64
            values[name] = np.array(columns[name], dtype=np.float64) / 1e6
        else:
            values[name] = epoch_seconds(pd.Series(columns[name], dtype=object))
    last = values["last_contact_at"]
    for days in WINDOW_DAYS:
        # The cutoff rounded as the contact times are, so a contact right at it compares true.
        cutoff = epoch_seconds_of(as_of - timedelta(days=days))
        outside = ~(last > cutoff)  # no contact at all is outside too
        for name in COUNT_INPUTS:
            counts = values[f"{name}_{days}d"]
            counts[outside & ~np.isnan(counts)] = 0.0
    return values


def _json(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    parsed = orjson.loads(value)
    return parsed if isinstance(parsed, dict) else {}
