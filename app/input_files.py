"""Files users load row by row (an event log, labelled states): one reading, one way of
naming a bad row, so every import's error points at the same kind of place."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from training.dataset import read_table
from training.errors import DataError


def read_records(path: Path, required: Sequence[str], *, time_column: str) -> list[dict[Any, Any]]:
    """The file's rows as mappings; DataError names the first required column it lacks.

    Parquet gives times as Timestamps, CSV as text: both become text for the row models to
    parse, so both are held to the same rules (an offset is required).
    """
    frame = read_table(path)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{path.name}: column {missing[0]!r} is missing")
    frame[time_column] = frame[time_column].map(
        lambda v: v.isoformat() if isinstance(v, pd.Timestamp) else v
    )
    return frame.to_dict("records")


def row_error(path: Path, row: int, exc: ValidationError) -> DataError:
    """The one line a bad row ends an import with: file, column and row (from 1)."""
    first = exc.errors()[0]
    column = str(first["loc"][0]) if first["loc"] else "row"
    return DataError(f"{path.name}: column {column!r} row {row}: {first['msg']}")
