"""`dealnode import labels FILE`: customers' true states from a labelled file.

A sales team that cannot wire its CRM's stage changes to DealNode can still export who turned
out to be where, and when; those rows weigh in live quality exactly like webhook ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from app.input_files import read_records, row_error
from app.input_types import CustomerId, Time
from app.monitoring.observed import Observation
from training.errors import DataError
from training.features import CustomerState

COLUMNS = ("customer_id", "state", "observed_at")
CLOCK_SKEW = timedelta(minutes=5)


class _LabelRow(BaseModel):
    """One row, held to the rules every id and time in DealNode follows."""

    model_config = ConfigDict(extra="ignore")

    customer_id: CustomerId
    state: CustomerState
    observed_at: Time


def read_labels(path: Path, *, now: datetime) -> list[Observation]:
    """Read and check a labelled file; DataError names the first bad row and column.

    Rows are numbered from 1 after the header, as a spreadsheet shows them less one.
    """
    found = []
    for row, record in enumerate(read_records(path, COLUMNS, time_column="observed_at"), 1):
        parsed = _parsed(path, row, record)
        if parsed.observed_at > now + CLOCK_SKEW:
            raise DataError(
                f"{path.name}: column 'observed_at' row {row}: "
                f"{parsed.observed_at.isoformat()} is in the future"
            )
        found.append(Observation(parsed.customer_id, parsed.state.value, parsed.observed_at))
    return found


def _parsed(path: Path, row: int, record: Mapping[Any, Any]) -> _LabelRow:
    values = {k: (None if pd.isna(v) else v) for k, v in record.items() if k in COLUMNS}
    try:
        return _LabelRow.model_validate(values)
    except ValidationError as exc:
        raise row_error(path, row, exc) from None
