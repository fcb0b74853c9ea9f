"""The active model row: which model an activation chose, for every process to follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.bulk import for_session
from app.tables import ActiveModel

ROW_ID = 1


def read(session: Session) -> ActiveModel | None:
    """The activation in force, or None when serving follows the registry's promoted model."""
    return session.get(ActiveModel, ROW_ID)


def record(session: Session, version: str, *, by: str, after: datetime | None = None) -> datetime:
    """Make `version` the active model (the caller commits); return when it was activated.

    The time is at least just `after` (the promotion it overrides), so a registry whose clock
    runs ahead of this one cannot silently take an activation back. One upsert, so two first
    activations at once cannot both try to insert the row.
    """
    now = datetime.now(UTC)
    if after is not None and after >= now:
        now = after + timedelta(milliseconds=1)
    values = {"version": version, "activated_at": now, "activated_by": by[:128]}
    statement = for_session(session).insert(ActiveModel).values(id=ROW_ID, **values)
    session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))
    return now
