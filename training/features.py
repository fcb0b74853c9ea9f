"""The one feature definition shared by training, offline scoring, the service and the nightly job.

Training/serving skew is the classic bug of this field, so every path into a feature row goes
through this module: an event log is aggregated into *raw inputs* by `raw_inputs_from_events`,
a CRM snapshot already holds raw inputs, and `build_features` turns raw inputs into the model's
feature columns as of a given time. Nothing else in the project computes a feature.

Time convention: timestamps are UTC; an event counts "as of" `as_of` when `occurred_at <= as_of`,
and counts inside a window of `w` days when `as_of - w days < occurred_at <= as_of`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.input_rules import check_time

FEATURE_SET_NAME: Final = "dealnode-core"
FEATURE_SET_VERSION: Final = 1
SECONDS_PER_DAY: Final = 86_400.0
FloatArray = npt.NDArray[np.float64]


class CustomerState(StrEnum):
    """The five customer states, in funnel order (see docs/domain.md)."""

    POTENTIAL = "potential"
    INTERESTED = "interested"
    INTENT = "intent"
    DECIDING = "deciding"
    LOYAL = "loyal"


STATES: Final[tuple[str, ...]] = tuple(s.value for s in CustomerState)
"""Label set in funnel order; the position is the class index every model uses."""


class InteractionType(StrEnum):
    """Interaction event types a CRM can report."""

    VISIT = "visit"
    REPLY = "reply"
    QUOTE = "quote"
    OBJECTION = "objection"
    MEETING = "meeting"
    PURCHASE = "purchase"


COUNT_INPUTS: Final[tuple[str, ...]] = (
    "visits",
    "replies",
    "quotes",
    "objections",
    "meetings",
    "purchases",
)
"""Lifetime count inputs, one per interaction type (same order as `InteractionType`)."""

EVENT_TYPE_TO_INPUT: Final[dict[str, str]] = dict(
    zip((t.value for t in InteractionType), COUNT_INPUTS, strict=True)
)
WINDOW_DAYS: Final[tuple[int, ...]] = (30, 90)
WINDOWED_INPUTS: Final[tuple[str, ...]] = tuple(
    f"{name}_{days}d" for days in WINDOW_DAYS for name in COUNT_INPUTS
)
TIME_INPUTS: Final[tuple[str, ...]] = ("first_contact_at", "last_contact_at")
RAW_COUNT_INPUTS: Final[tuple[str, ...]] = COUNT_INPUTS + WINDOWED_INPUTS
MAX_COUNT: Final = 2**31 - 1
"""The largest count input: the service stores counts as 32-bit integers (PostgreSQL's)."""
RAW_INPUTS: Final[tuple[str, ...]] = RAW_COUNT_INPUTS + TIME_INPUTS
"""Everything a customer's feature row is derived from; a CRM snapshot row carries these."""


@dataclass(frozen=True)
class Derived:
    """One derived feature, declared rather than coded so the spec hash covers its formula.

    kinds: `days_since` (as_of - arg0, in days), `span_days` (arg1 - arg0, in days),
    `ratio` (arg0 / arg1, 0 when arg1 is 0), `sum` (of args), `per_30d` (arg0 per 30 days of
    arg1, arg1 floored at 1 day), `gap_days` (arg1 span over arg0 - 1 contacts, floored at 1).
    """

    name: str
    kind: str
    args: tuple[str, ...]


def _all(suffix: str) -> tuple[str, ...]:
    return tuple(f"{name}{suffix}" for name in COUNT_INPUTS)


DERIVED: Final[tuple[Derived, ...]] = (
    Derived("days_since_last_contact", "days_since", ("last_contact_at",)),
    Derived("tenure_days", "days_since", ("first_contact_at",)),
    Derived("interactions_total", "sum", _all("")),
    Derived("interactions_30d", "sum", _all("_30d")),
    Derived("interactions_90d", "sum", _all("_90d")),
    Derived("replies_per_visit", "ratio", ("replies", "visits")),
    Derived("quotes_per_visit", "ratio", ("quotes", "visits")),
    Derived("objections_per_quote", "ratio", ("objections", "quotes")),
    Derived("purchases_per_quote", "ratio", ("purchases", "quotes")),
    Derived("objection_share_90d", "ratio", ("objections_90d", "interactions_90d")),
    Derived("activity_share_30d", "ratio", ("interactions_30d", "interactions_90d")),
    Derived("contacts_per_30d", "per_30d", ("interactions_total", "tenure_days")),
    Derived("days_between_contacts", "gap_days", ("interactions_total", "active_span_days")),
)
"""Derived features in evaluation order: a later one may use an earlier one."""

_HIDDEN: Final = (
    Derived("active_span_days", "span_days", ("first_contact_at", "last_contact_at")),
)
"""Intermediate values needed by derived features but not fed to the model."""

FEATURES: Final[tuple[str, ...]] = RAW_COUNT_INPUTS + tuple(d.name for d in DERIVED)
"""The model's core feature columns, in order."""


def feature_spec() -> dict[str, Any]:
    """Describe the feature set fully enough that two equal specs compute equal features."""
    return {
        "name": FEATURE_SET_NAME,
        "version": FEATURE_SET_VERSION,
        "states": list(STATES),
        "raw_inputs": list(RAW_INPUTS),
        "window_days": list(WINDOW_DAYS),
        "window_rule": "as_of - days < occurred_at <= as_of",
        "derived": [[d.name, d.kind, list(d.args)] for d in _HIDDEN + DERIVED],
        "features": list(FEATURES),
    }


def feature_set_hash() -> str:
    """Return a short, stable hash of `feature_spec()`; every trained model records it."""
    text = json.dumps(feature_spec(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_utc(value: str | datetime | pd.Timestamp) -> pd.Timestamp:
    """Parse one time as a UTC timestamp; naive times are taken to be UTC already.

    Outside the time range it is refused here (`TimeOutOfRange`, a ValueError), so a mapping
    file's or an option's time is held to the same range as the API's.
    """
    ts = pd.Timestamp(value)
    return check_time(ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC))


def parse_times(values: pd.Series) -> pd.Series:
    """Parse a column of times (datetimes or ISO 8601 text) as UTC; naive values are UTC."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    return pd.to_datetime(values, utc=True, format="ISO8601")


def epoch_seconds(values: pd.Series) -> FloatArray:
    """Return UTC datetimes (any unit, NaT allowed) as float seconds since the epoch, NaN for NaT.

    Both ways into a feature row pass their timestamps through here, so they agree to the bit.
    """
    as_us = parse_times(values).dt.as_unit("us")
    out: FloatArray = as_us.astype("int64").to_numpy(dtype=np.float64) / 1e6
    out[as_us.isna().to_numpy()] = np.nan
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_seconds_of(value: datetime | None) -> float:
    """One aware datetime as epoch seconds, bit-identical to `epoch_seconds` (NaN for None)."""
    if value is None:
        return float("nan")
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros / 1e6


def raw_inputs_from_events(
    events: pd.DataFrame,
    as_of: str | datetime | pd.Timestamp,
    customer_ids: Sequence[str] | pd.Index | None = None,
) -> pd.DataFrame:
    """Aggregate an event log into one raw-input row per customer, counting only events <= as_of.

    `events` needs columns `customer_id`, `type` (an `InteractionType` value) and `occurred_at`.
    Customers listed in `customer_ids` without events get zero counts and no contact times;
    without `customer_ids` the result covers customers that have at least one event by `as_of`.
    """
    cutoff = to_utc(as_of)
    unknown = set(events["type"].unique()) - set(EVENT_TYPE_TO_INPUT)
    if unknown:
        raise ValueError(f"column 'type': unknown interaction type {sorted(unknown)[0]!r}")
    times = parse_times(events["occurred_at"])
    seen = events.loc[(times <= cutoff).to_numpy()]
    times = times[(times <= cutoff).to_numpy()]
    ids = (
        pd.Index(customer_ids)
        if customer_ids is not None
        else pd.Index(seen["customer_id"].unique())
    )
    ids = ids.astype(str)
    codes = ids.get_indexer(pd.Index(seen["customer_id"].astype(str)))
    keep = codes >= 0
    kinds = np.asarray(seen["type"].map(KIND_INDEX), dtype=np.intp)[keep]
    values = aggregate_events(
        codes[keep], kinds, epoch_seconds(times)[keep], customers=len(ids), now=cutoff.timestamp()
    )
    columns: dict[str, Any] = {name: values[name] for name in RAW_COUNT_INPUTS}
    for name in TIME_INPUTS:
        columns[name] = _seconds_to_datetime(values[name])
    # One constructor call: adding columns one by one costs more than the counting itself.
    return pd.DataFrame(columns, index=pd.Index(ids, name="customer_id"))[list(RAW_INPUTS)]


KIND_INDEX: Final[dict[str, int]] = {t.value: i for i, t in enumerate(InteractionType)}
"""An interaction type's position in `COUNT_INPUTS`."""


def aggregate_events(
    codes: npt.NDArray[np.intp],
    kinds: npt.NDArray[np.intp],
    seconds: FloatArray,
    *,
    customers: int,
    now: float,
) -> dict[str, FloatArray]:
    """The raw inputs of `customers` customers from their events, as `feature_matrix` takes
    them: counts as floats, contact times in epoch seconds (NaN without a contact).

    Event i belongs to customer `codes[i]` (0 .. customers-1), is of type `kinds[i]` (see
    `KIND_INDEX`) and happened at `seconds[i]` (`epoch_seconds`); only events at or before
    `now` count. The one aggregation of events: the offline log (`raw_inputs_from_events`)
    and the webhooks' stored events both come here.
    """
    counted = seconds <= now
    codes, kinds, seconds = codes[counted], kinds[counted], seconds[counted]
    slots = codes * len(COUNT_INPUTS) + kinds
    size = customers * len(COUNT_INPUTS)
    values: dict[str, FloatArray] = {}
    for days in (None, *WINDOW_DAYS):
        if days is None:
            counts = np.bincount(slots, minlength=size)
            suffix = ""
        else:
            counts = np.bincount(slots[seconds > now - days * SECONDS_PER_DAY], minlength=size)
            suffix = f"_{days}d"
        table = counts.reshape(customers, len(COUNT_INPUTS)).astype(np.float64)
        for i, name in enumerate(COUNT_INPUTS):
            values[f"{name}{suffix}"] = table[:, i]
    first = np.full(customers, np.inf)
    last = np.full(customers, -np.inf)
    np.minimum.at(first, codes, seconds)
    np.maximum.at(last, codes, seconds)
    first[np.isinf(first)] = np.nan
    last[np.isinf(last)] = np.nan
    values["first_contact_at"] = first
    values["last_contact_at"] = last
    return values


def datetime_of(seconds: float) -> datetime | None:
    """Epoch seconds back to an aware UTC datetime (None for NaN); `epoch_seconds_of` inverted."""
    if seconds != seconds:  # NaN
        return None
    return _EPOCH + timedelta(microseconds=round(seconds * 1e6))


def _seconds_to_datetime(seconds: FloatArray) -> Any:
    micros = np.round(seconds * 1e6)
    return pd.DatetimeIndex(pd.to_datetime(micros, unit="us", utc=True)).as_unit("us").array


def build_features(raw: pd.DataFrame, as_of: str | datetime | pd.Timestamp) -> pd.DataFrame:
    """Turn raw inputs into the model's core feature columns (`FEATURES`) as of `as_of`.

    Missing raw inputs (NaN, or a column the source does not have) stay NaN in the features
    that depend on them; LightGBM routes NaN on its own. Contact times after `as_of` are a
    caller's bug (the event path never produces them), so recency is clipped at zero.
    """
    matrix = feature_matrix(raw_values(raw), to_utc(as_of).timestamp())
    return pd.DataFrame(matrix, index=raw.index, columns=list(FEATURES))


def raw_values(raw: pd.DataFrame) -> dict[str, FloatArray]:
    """Raw inputs as float arrays (contact times in epoch seconds), as `feature_matrix` takes."""
    n = len(raw)
    values: dict[str, FloatArray] = {}
    for name in RAW_COUNT_INPUTS:
        if name in raw.columns:
            values[name] = pd.to_numeric(raw[name], errors="coerce").to_numpy(dtype=np.float64)
        else:
            values[name] = np.full(n, np.nan)
    for name in TIME_INPUTS:
        if name in raw.columns:
            values[name] = epoch_seconds(raw[name])
        else:
            values[name] = np.full(n, np.nan)
    return values


def feature_matrix(values: dict[str, FloatArray], now: float) -> FloatArray:
    """Compute the `FEATURES` matrix (rows x features) from raw-input arrays.

    `values` holds one float array per name in `RAW_INPUTS`, contact times as epoch seconds
    (`epoch_seconds`); `now` is `as_of` in epoch seconds. `build_features`, the nightly run
    and, through `feature_matrix_of_raw`, the service's request path share `_derive_all`.
    """
    table = _work_table(len(values[RAW_INPUTS[0]]))
    for i, name in enumerate(RAW_INPUTS):
        table[i] = values[name]
    return _derive_all(table, now)


def feature_matrix_of_raw(raw: FloatArray, now: float) -> FloatArray:
    """`feature_matrix` of a (rows x `RAW_INPUTS`) array."""
    table = _work_table(len(raw))
    table[: len(RAW_INPUTS)] = raw.T
    return _derive_all(table, now)


def _work_table(rows: int) -> FloatArray:
    """A column of every raw input and derived feature, each column one contiguous row."""
    return np.empty((len(_TABLE_COLUMNS), rows))


def _derive_all(table: FloatArray, now: float) -> FloatArray:
    """The single implementation of every formula, on a work table with its inputs filled.

    The derived features are computed a kind at a time (every ratio in one numpy call, and
    so on), in the order their inputs allow (`_PLAN`): per feature, the numpy calls' own
    cost was most of a single prediction's feature time.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        for step in _PLAN:
            table[step.out] = _formula(step.kind, table[step.args], now)
    features = table[_FEATURE_COLUMNS]
    out = np.empty((features.shape[1], len(features)))
    # Transposed a block of rows at a time: a whole transposed copy strides through memory
    # and took five times longer at 20,000 rows.
    for start in range(0, len(out), _TRANSPOSE_ROWS):
        out[start : start + _TRANSPOSE_ROWS] = features[:, start : start + _TRANSPOSE_ROWS].T
    return out


@dataclass(frozen=True)
class _Step:
    """Derived features of one kind whose inputs are all known by the time it runs."""

    kind: str
    args: npt.NDArray[np.intp]
    """Rows of the work table (its columns): the arguments of each feature."""
    out: npt.NDArray[np.intp]
    """Where each feature goes in the work table."""


def _plan(specs: Sequence[Derived]) -> tuple[tuple[str, ...], tuple[_Step, ...]]:
    """The work table's columns, and the steps that fill it, each after those it needs."""
    columns = RAW_INPUTS + tuple(spec.name for spec in specs)
    position = {name: i for i, name in enumerate(columns)}
    depth = dict.fromkeys(RAW_INPUTS, 0)
    for spec in specs:  # in evaluation order: a spec's arguments come before it
        depth[spec.name] = 1 + max(depth[arg] for arg in spec.args)
    steps = []
    for level in sorted({depth[spec.name] for spec in specs}):
        shapes = dict.fromkeys(
            (spec.kind, len(spec.args)) for spec in specs if depth[spec.name] == level
        )
        for kind, arity in shapes:  # one array of arguments needs one arity
            group = [
                spec
                for spec in specs
                if depth[spec.name] == level and (spec.kind, len(spec.args)) == (kind, arity)
            ]
            args = np.array([[position[arg] for arg in spec.args] for spec in group])
            out = np.array([position[spec.name] for spec in group])
            steps.append(_Step(kind, args, out))
    return columns, tuple(steps)


def _formula(kind: str, args: FloatArray, now: float) -> Any:
    """Features of one kind, from `args` shaped (features, arguments, rows)."""
    first = args[:, 0]
    if kind == "days_since":
        return np.maximum(now - first, 0.0) / SECONDS_PER_DAY
    if kind == "span_days":
        return (args[:, 1] - first) / SECONDS_PER_DAY
    if kind == "sum":
        # A source without one count (say, no meetings tracked) still has a meaningful total.
        total = np.nansum(args, axis=1)
        total[np.isnan(args).all(axis=1)] = np.nan
        return total
    if kind == "ratio":
        num, den = first, args[:, 1]
        return np.where(den > 0, num / den, np.where(np.isnan(den) | np.isnan(num), np.nan, 0.0))
    if kind == "per_30d":
        count, days = first, args[:, 1]
        return count / np.maximum(days, 1.0) * 30.0
    if kind == "gap_days":
        count, span = first, args[:, 1]
        return span / np.maximum(count - 1.0, 1.0)
    raise ValueError(f"unknown derived feature kind {kind!r}")


_TABLE_COLUMNS, _PLAN = _plan(_HIDDEN + DERIVED)
_FEATURE_COLUMNS = np.array([_TABLE_COLUMNS.index(name) for name in FEATURES])
_TRANSPOSE_ROWS = 512
