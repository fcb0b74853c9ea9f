"""True states as the CRM reports them: stored once per customer, source and time.

They arrive three ways: a native webhook item carrying `crm_state` (instead of `type`), a HubSpot
deal stage change mapped onto a state (`stage_states` in the mapping file), and a labelled
file (`dealnode import labels`). Senders retry and files get imported twice, so a row that
is already stored is skipped, never doubled: doubled labels would weigh twice in the
live precision and recall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from app.bulk import for_session
from app.errors import InvalidInput
from app.input_types import CustomerId, EventId, Time
from app.tables import ObservedState
from training.features import CustomerState

CRM_STATE = "crm_state"
"""The native webhook field that carries the CRM's own view of the customer's state."""
CLOCK_SKEW = timedelta(minutes=5)
ROWS_PER_STATEMENT = 1000
"""Rows per INSERT: SQLite takes at most 32,766 bound values in one statement."""


class Observation(NamedTuple):
    """A customer's true state at a time."""

    customer_id: str
    state: str
    observed_at: datetime


def record(
    session: Session, observations: Sequence[Observation], *, source: str, now: datetime
) -> int:
    """Store the observations not stored yet, in the session's transaction; how many were new."""
    bulk = for_session(session)
    new = 0
    for start in range(0, len(observations), ROWS_PER_STATEMENT):
        rows = [
            {
                "customer_id": o.customer_id,
                "state": o.state,
                "observed_at": o.observed_at,
                "source": source,
                "recorded_at": now,
            }
            for o in observations[start : start + ROWS_PER_STATEMENT]
        ]
        statement = (
            bulk.insert(ObservedState)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["customer_id", "source", "observed_at"])
            .returning(ObservedState.id)  # what was inserted: rowcount is not reliable here
        )
        new += len(session.execute(statement).all())
    return new


class StateReport(BaseModel):
    """A native webhook item saying which state the CRM has the customer in, since when.

    It carries `crm_state` where an interaction carries `type`: a stage change is not an
    interaction, and counting it as one would change the customer's features.
    """

    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    crm_state: CustomerState
    occurred_at: Time
    event_id: EventId | None = Field(
        default=None, description="Accepted for a CRM's usual envelope; not needed."
    )


def is_report(item: dict[str, Any]) -> bool:
    """Whether a native webhook item is a state report rather than an interaction."""
    return CRM_STATE in item and "type" not in item


def split_reports(
    items: Sequence[dict[str, Any]], *, now: datetime
) -> tuple[list[dict[str, Any]], list[Observation]]:
    """A delivery's interaction items, and the states its state reports give.

    InvalidInput names the first bad report by its place in the delivery.
    """
    interactions, found = [], []
    for i, item in enumerate(items):
        if not is_report(item):
            interactions.append(item)
            continue
        try:
            report = StateReport.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in (i, *first["loc"]))
            raise InvalidInput(f"{where}: {first['msg']}", field=where) from None
        if report.occurred_at > now + CLOCK_SKEW:
            where = f"{i}.occurred_at"
            raise InvalidInput(f"{where} is in the future", field=where)
        found.append(Observation(report.customer_id, report.crm_state.value, report.occurred_at))
    return interactions, found


def store(
    sessions: Callable[[], Session], observations: Sequence[Observation], *, source: str
) -> int:
    """`record` in a transaction of its own: a webhook's states after its events are applied."""
    with sessions() as session:
        new = record(session, observations, source=source, now=datetime.now(UTC))
        session.commit()
    return new
