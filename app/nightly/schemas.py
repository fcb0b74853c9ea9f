"""Bodies of the runs API (and of `dealnode runs --json`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ShardRead(BaseModel):
    """One process's part of a run."""

    shard: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    rows_scored: int
    state_changes: int
    error: str | None


class RunRead(BaseModel):
    """One run; its counts join its shards' (live while it runs); `transitions[from][to]`."""

    id: str
    model_version: str
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str
    dry_run: bool
    rows_scored: int
    state_changes: int
    transitions: dict[str, dict[str, int]]
    error: str | None
    shards: int
    parts: list[ShardRead]
