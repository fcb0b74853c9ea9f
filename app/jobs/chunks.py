"""Read the nightly run's customers a chunk at a time, with their inputs as of the run's time.

Columns are read untyped and converted a whole column at a time: per-value conversion
(SQLAlchemy's result processors) would cost more than the model on a million customers.
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

from app.jobs.runs import Shard
from training.features import (
    COUNT_INPUTS,
    RAW_COUNT_INPUTS,
    RAW_INPUTS,
    TIME_INPUTS,
    WINDOW_DAYS,
    parse_times,
    raw_inputs_from_events,
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
            "extras",
            *TIME_INPUTS,
            *RAW_COUNT_INPUTS,
        )
    ),
)
_EVENT = table("interaction_event", column("customer_id"), column("type"), column("occurred_at"))
_READ = ("customer_id", "row_version", "state", "objection_kind", *TIME_INPUTS, *RAW_COUNT_INPUTS)


@dataclass
class Chunk:
    """A chunk of customers as stored, and their raw inputs as of the run's time."""

    ids: list[str]
    versions: npt.NDArray[np.int64]
    states: list[str | None]
    kinds: list[str | None]
    extras: list[dict[str, Any]]
    raw: pd.DataFrame
    """One row per customer in `ids` order, the feature module's raw inputs."""

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
    query = _columns(with_extras).where(c.customer_id > span.after, c.customer_id <= span.last)
    if span.shard.count > 1:
        query = query.where(c.shard_key % span.shard.count == span.shard.index)
    rows = session.execute(query.order_by(c.customer_id)).all()
    if not rows:
        return None
    e = _EVENT.c
    events = _events(session, e.customer_id > span.after, e.customer_id <= span.last)
    return _chunk(rows, events, as_of, with_extras)


def reread(
    session: Session, ids: Sequence[str], *, as_of: datetime, with_extras: bool
) -> Chunk | None:
    """These customers again, freshly read (after a concurrent update)."""
    c = _CUSTOMER.c
    query = _columns(with_extras).where(c.customer_id.in_(ids)).order_by(c.customer_id)
    rows = session.execute(query).all()
    if not rows:
        return None
    events = _events(session, _EVENT.c.customer_id.in_(ids))
    return _chunk(rows, events, as_of, with_extras)


def _columns(with_extras: bool) -> Select[Any]:
    columns: list[ColumnElement[Any]] = [_CUSTOMER.c[name] for name in _READ]
    if with_extras:
        # As text on both databases, parsed here: one code path for SQLite and PostgreSQL.
        columns.append(cast(_CUSTOMER.c.extras, Text).label("extras"))
    return select(*columns)


def _events(session: Session, *where: Any) -> pd.DataFrame:
    e = _EVENT.c
    rows = session.execute(select(e.customer_id, e.type, e.occurred_at).where(*where)).all()
    return pd.DataFrame(rows, columns=["customer_id", "type", "occurred_at"])


def _chunk(rows: Sequence[Any], events: pd.DataFrame, as_of: datetime, with_extras: bool) -> Chunk:
    names = _READ + (("extras",) if with_extras else ())
    columns = dict(zip(names, zip(*rows, strict=True), strict=True))
    ids = list(columns["customer_id"])
    raw = stored_inputs(ids, columns, as_of)
    if len(events):
        events = events[events["customer_id"].isin(ids)]
    if len(events):
        with_events = sorted(set(events["customer_id"]))
        exact = raw_inputs_from_events(events, as_of, customer_ids=with_events)
        raw.loc[with_events, exact.columns] = exact
    extras = [_json(v) for v in columns["extras"]] if with_extras else [{} for _ in ids]
    return Chunk(
        ids=ids,
        versions=np.array(columns["row_version"], dtype=np.int64),
        states=list(columns["state"]),
        kinds=list(columns["objection_kind"]),
        extras=extras,
        raw=raw,
    )


def stored_inputs(
    ids: Sequence[str], columns: Mapping[str, Sequence[Any]], as_of: datetime
) -> pd.DataFrame:
    """Raw inputs of customers known only from API calls, moved forward to `as_of`.

    Lifetime counts and contact times stay as stored. A window's count is known to be zero
    once the last contact falls outside the window; otherwise the stored count is kept, the
    best that can be known without the events.
    """
    values: dict[str, Any] = {
        name: np.array(columns[name], dtype=np.float64) for name in RAW_COUNT_INPUTS
    }
    for name in TIME_INPUTS:
        values[name] = parse_times(pd.Series(columns[name], dtype=object)).array
    last = pd.DatetimeIndex(values["last_contact_at"])
    for days in WINDOW_DAYS:
        cutoff = pd.Timestamp(as_of) - timedelta(days=days)
        outside = np.asarray((last <= cutoff) | last.isna())
        for name in COUNT_INPUTS:
            counts = values[f"{name}_{days}d"]
            counts[outside & ~np.isnan(counts)] = 0.0
    index = pd.Index(ids, name="customer_id")
    return pd.DataFrame(values, index=index)[list(RAW_INPUTS)]


def _json(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    parsed = orjson.loads(value)
    return parsed if isinstance(parsed, dict) else {}
