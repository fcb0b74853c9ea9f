"""Read a snapshot or CRM export into a `CustomerTable`, refusing bad rows with one clear line.

Every check is vectorised (a million rows load in seconds) and reports the first bad row as a
1-based data row number (row 1 is the first row after the header), the value, and how many
rows share the problem, so a sales-ops person can fix the export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.errors import DataError
from training.features import RAW_COUNT_INPUTS, RAW_INPUTS, TIME_INPUTS, to_utc
from training.input_rules import EARLIEST, ID_PATTERN, LATEST, TIME_RULE
from training.mapping import NATIVE_MAPPING, Mapping
from training.table import CustomerTable


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; CSV cells stay text so ids keep their leading zeros."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise DataError(f"{path.name}: use a .csv or .parquet file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name}: the file is empty") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path.name}: cannot be read ({first})") from None
    if frame.empty:
        raise DataError(f"{path.name}: the file has no data rows")
    return frame


def load_customers(
    path: Path,
    mapping: Mapping | None = None,
    *,
    require_labels: bool,
    as_of: pd.Timestamp | None = None,
) -> CustomerTable:
    """Read `path` and map it (DealNode's own snapshot schema when `mapping` is None)."""
    return to_customer_table(
        read_table(path),
        mapping or NATIVE_MAPPING,
        require_labels=require_labels,
        source=path.name,
        as_of=as_of,
    )


def to_customer_table(
    frame: pd.DataFrame,
    mapping: Mapping,
    *,
    require_labels: bool,
    source: str = "input",
    as_of: pd.Timestamp | None = None,
) -> CustomerTable:
    """Apply `mapping` to `frame` and check every value the model will read."""
    if frame.empty:
        raise DataError(f"{source}: no data rows")
    wanted = [mapping.id, *mapping.inputs.values(), *mapping.extra_numeric]
    wanted += list(mapping.extra_categorical)
    if require_labels:
        if mapping.label is None:
            raise DataError(f"{source}: the mapping names no label column")
        wanted.append(mapping.label)
    for column in wanted:
        _require_column(frame, column, source)

    rows = np.arange(1, len(frame) + 1)
    labels: pd.Series | None = None
    if require_labels:
        assert mapping.label is not None
        text = frame[mapping.label].astype("string").str.strip()
        mapped = text.map(mapping.labels)
        unknown = mapped.isna().to_numpy()
        if unknown.any() and not mapping.drop_unmapped:
            _fail(
                source,
                mapping.label,
                rows,
                unknown,
                text,
                "unknown label value",
                hint="map it in [labels] or set drop_unmapped = true",
            )
        keep = ~unknown
        frame, rows = frame.loc[keep], rows[keep]
        if frame.empty:
            raise DataError(f"{source}: column {mapping.label!r}: no row has a mapped label")
        labels = mapped[keep].astype(str)

    when = _as_of(frame, mapping, as_of, source)
    ids = frame[mapping.id].astype("string").str.strip()
    empty = (ids.isna() | (ids == "")).to_numpy()
    if empty.any():
        _fail(source, mapping.id, rows, empty, ids, "empty id")
    not_ids = ~ids.str.fullmatch(ID_PATTERN).fillna(False).to_numpy(bool)
    if not_ids.any():
        _fail(source, mapping.id, rows, not_ids, ids, "not an id (see docs/ids.md):")
    repeated = ids.duplicated(keep="first").to_numpy()
    if repeated.any():
        _fail(source, mapping.id, rows, repeated, ids, "duplicate id")
    index = pd.Index(ids.to_numpy(dtype=object), name="customer_id")

    raw = pd.DataFrame(index=index)
    for name in RAW_COUNT_INPUTS:
        counts_from = mapping.inputs.get(name)
        raw[name] = np.nan if counts_from is None else _counts(frame, counts_from, rows, source)
    for name in TIME_INPUTS:
        times_from = mapping.inputs.get(name)
        raw[name] = (
            pd.Series(pd.NaT, index=index, dtype="datetime64[us, UTC]")
            if times_from is None
            else _times(frame, times_from, rows, source, when).array  # keeps the UTC dtype
        )
    _check_contact_order(raw, mapping, rows, source)

    extras = pd.DataFrame(index=index)
    for column in mapping.extra_numeric:
        extras[column] = _numbers(frame, column, rows, source)
    for column in mapping.extra_categorical:
        values = frame[column].astype("string").str.strip()
        extras[column] = values.where(values.notna() & (values != ""), None).to_numpy(object)
    return CustomerTable(
        raw=raw[list(RAW_INPUTS)],
        extras=extras,
        labels=None if labels is None else pd.Series(labels.to_numpy(), index=index),
        as_of=when,
        extra_numeric=mapping.extra_numeric,
        extra_categorical=mapping.extra_categorical,
    )


def _require_column(frame: pd.DataFrame, column: str, source: str) -> None:
    if column in frame.columns:
        return
    import difflib

    close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(f"{source}: column {column!r} is missing{hint}")


def _fail(
    source: str,
    column: str,
    rows: npt.NDArray[np.int64],
    bad: npt.NDArray[np.bool_],
    values: pd.Series,
    problem: str,
    hint: str = "",
) -> None:
    first = int(np.flatnonzero(bad)[0])
    count = int(bad.sum())
    more = f" ({count} rows)" if count > 1 else ""
    tail = f"; {hint}" if hint else ""
    value = values.iloc[first]
    shown = "empty" if value is None or value is pd.NA or pd.isna(value) else repr(str(value))
    raise DataError(
        f"{source}: column {column!r} row {int(rows[first])}: {problem} {shown}{more}{tail}"
    )


def _numbers(
    frame: pd.DataFrame, column: str, rows: npt.NDArray[np.int64], source: str
) -> npt.NDArray[np.float64]:
    values = frame[column]
    numbers = pd.to_numeric(values, errors="coerce")
    blank = values.isna().to_numpy().copy()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        blank |= (values.astype("string").str.strip() == "").fillna(True).to_numpy(bool)
    bad = numbers.isna().to_numpy() & ~blank
    if bad.any():
        _fail(source, column, rows, bad, values, "not a number:")
    out: npt.NDArray[np.float64] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isfinite(out[~np.isnan(out)]).all():
        _fail(source, column, rows, np.isinf(out), values, "not a finite number:")
    return out


def _counts(
    frame: pd.DataFrame, column: str, rows: npt.NDArray[np.int64], source: str
) -> npt.NDArray[np.float64]:
    numbers = _numbers(frame, column, rows, source)
    with np.errstate(invalid="ignore"):
        negative = numbers < 0
        fractional = ~np.isnan(numbers) & (np.floor(numbers) != numbers)
    if negative.any():
        _fail(source, column, rows, negative, frame[column], "negative count")
    if fractional.any():
        _fail(source, column, rows, fractional, frame[column], "count is not a whole number:")
    return numbers


def _times(
    frame: pd.DataFrame, column: str, rows: npt.NDArray[np.int64], source: str, as_of: pd.Timestamp
) -> pd.Series:
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
        blank = parsed.isna().to_numpy()
    else:
        text = values.astype("string").str.strip()
        blank = (text.isna() | (text == "")).to_numpy(bool)
        parsed = pd.to_datetime(text.where(~blank), utc=True, format="ISO8601", errors="coerce")
        bad = parsed.isna().to_numpy() & ~blank
        if bad.any():
            _fail(source, column, rows, bad, values, "cannot parse as a time:")
    parsed = parsed.dt.as_unit("us")
    outside = ((parsed < EARLIEST) | (parsed >= LATEST)).fillna(False).to_numpy(bool)
    if outside.any():
        _fail(source, column, rows, outside, values, "outside the time range:", hint=TIME_RULE)
    future = (parsed > as_of).fillna(False).to_numpy(bool)
    if future.any():
        _fail(
            source,
            column,
            rows,
            future,
            values,
            f"after as_of {as_of.isoformat()}:",
            hint="it would leak the future into training",
        )
    return parsed


def _check_contact_order(
    raw: pd.DataFrame, mapping: Mapping, rows: npt.NDArray[np.int64], source: str
) -> None:
    backwards = (raw["last_contact_at"] < raw["first_contact_at"]).fillna(False).to_numpy(bool)
    if backwards.any():
        column = mapping.inputs.get("last_contact_at", "last_contact_at")
        _fail(
            source,
            column,
            rows,
            backwards,
            raw["last_contact_at"].astype(str),
            "last contact is before first contact:",
        )


def _as_of(
    frame: pd.DataFrame, mapping: Mapping, given: pd.Timestamp | None, source: str
) -> pd.Timestamp:
    if given is not None:
        return to_utc(given)
    if mapping.as_of is not None:
        return mapping.as_of
    if "as_of" in frame.columns:
        values = pd.to_datetime(frame["as_of"], utc=True, format="ISO8601", errors="coerce")
        distinct = values.dropna().unique()
        if len(distinct) == 1 and not values.isna().any():
            return to_utc(str(distinct[0]))
        raise DataError(f"{source}: column 'as_of' must hold one single time")
    raise DataError(f"{source}: no as_of: set as_of in the mapping or pass --as-of")
