"""Mapping files: how a team's CRM export (CSV or Parquet) becomes DealNode's raw inputs.

A mapping names the id and label columns, how label values map onto the five states, which
columns feed which raw input, the extra columns to use as features, and the `as_of` time.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from training.errors import DataError
from training.features import RAW_INPUTS, STATES, to_utc
from training.input_rules import TIME_RULE, TimeOutOfRange

_TOP_KEYS = {"id", "label", "as_of", "labels", "inputs", "extra", "drop_unmapped"}
_EXTRA_KEYS = {"numeric", "categorical"}


@dataclass(frozen=True)
class Mapping:
    """A CRM export's layout; see the README's "Training on your own CRM export"."""

    id: str
    label: str | None = None
    as_of: pd.Timestamp | None = None
    labels: dict[str, str] = field(default_factory=dict)
    drop_unmapped: bool = False
    inputs: dict[str, str] = field(default_factory=dict)
    """Raw input name -> column."""
    extra_numeric: tuple[str, ...] = ()
    extra_categorical: tuple[str, ...] = ()


NATIVE_MAPPING = Mapping(
    id="customer_id",
    label="state",
    labels={state: state for state in STATES},
    inputs={name: name for name in RAW_INPUTS},
    extra_categorical=("segment",),
)
"""DealNode's own snapshot schema, as `dealnode simulate` writes it."""


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; DataError names the key that is wrong."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"mapping {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"mapping {path}: not valid TOML ({exc})") from None
    return parse_mapping(data, source=str(path))


def parse_mapping(data: dict[str, Any], *, source: str = "mapping") -> Mapping:
    """Check a mapping already read from TOML."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise DataError(
            f"{source}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_TOP_KEYS))})"
        )
    id_column = data.get("id")
    if not isinstance(id_column, str) or not id_column:
        raise DataError(f"{source}: 'id' must name the id column")
    label = data.get("label")
    if label is not None and (not isinstance(label, str) or not label):
        raise DataError(f"{source}: 'label' must name the label column")
    labels = _string_table(data.get("labels", {}), "labels", source)
    for value, state in labels.items():
        if state not in STATES:
            raise DataError(
                f"{source}: [labels] {value!r} = {state!r} is not a state ({', '.join(STATES)})"
            )
    if label is not None and not labels:
        raise DataError(f"{source}: [labels] is needed to map {label!r} values onto states")
    inputs = _string_table(data.get("inputs", {}), "inputs", source)
    for name in inputs:
        if name not in RAW_INPUTS:
            raise DataError(
                f"{source}: [inputs] {name!r} is not a raw input ({', '.join(RAW_INPUTS)})"
            )
    extra = data.get("extra", {})
    if not isinstance(extra, dict):
        raise DataError(f"{source}: [extra] must be a table")
    unknown = sorted(set(extra) - _EXTRA_KEYS)
    if unknown:
        raise DataError(f"{source}: [extra] unknown key {unknown[0]!r} (use numeric, categorical)")
    numeric = _string_list(extra.get("numeric", []), "extra.numeric", source)
    categorical = _string_list(extra.get("categorical", []), "extra.categorical", source)
    used = [id_column, *([label] if label else []), *inputs.values(), *numeric, *categorical]
    repeated = sorted({c for c in used if used.count(c) > 1})
    if repeated:
        raise DataError(f"{source}: column {repeated[0]!r} is mapped twice")
    drop = data.get("drop_unmapped", False)
    if not isinstance(drop, bool):
        raise DataError(f"{source}: 'drop_unmapped' must be true or false")
    return Mapping(
        id=id_column,
        label=label,
        as_of=_parse_as_of(data.get("as_of"), source),
        labels=labels,
        drop_unmapped=drop,
        inputs=inputs,
        extra_numeric=tuple(numeric),
        extra_categorical=tuple(categorical),
    )


def _parse_as_of(value: object, source: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return to_utc(value if isinstance(value, str) else str(value))
    except TimeOutOfRange:
        raise DataError(f"{source}: 'as_of' {value!r}: {TIME_RULE}") from None
    except ValueError:
        raise DataError(f"{source}: 'as_of' {value!r} is not a time") from None


def _string_table(value: object, key: str, source: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise DataError(f"{source}: [{key}] must map names to strings")
    return dict(value)


def _string_list(value: object, key: str, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise DataError(f"{source}: '{key}' must be a list of column names")
    return list(value)
