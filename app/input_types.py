"""Field types for ids, times and free text, each held to its rule in `training.input_rules`.

A value breaking a rule is then a 422 naming its field wherever it arrives, instead of an
error from the database (NUL, surrogates), from Python (year 1 in UTC) or an id stored but
unreachable by URL. Checks are one compiled regex or comparison per value: the batch
endpoint runs them for each of its thousand customers.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, WithJsonSchema

from training.input_rules import (
    EARLIEST,
    ID_MAX_LENGTH,
    ID_PATTERN,
    ID_RULE,
    LATEST,
    LOOKUP_ID_PATTERN,
    LOOKUP_ID_RULE,
    TEXT_RULE,
    is_id,
    is_lookup_id,
    is_storable,
)


def _new_id(value: str) -> str:
    if not is_id(value):
        raise ValueError(f"{ID_RULE} (see docs/ids.md)")
    return value


def _lookup_id(value: str) -> str:
    if not is_lookup_id(value):
        raise ValueError(f"{LOOKUP_ID_RULE} (see docs/ids.md)")
    return value


def _text(value: str) -> str:
    if not is_storable(value):
        raise ValueError(TEXT_RULE)
    return value


def _keys_and_texts(values: dict[str, Any]) -> dict[str, Any]:
    for key, value in values.items():
        if not is_storable(key):
            raise ValueError(f"key {key!r}: {TEXT_RULE}")
        if isinstance(value, str) and not is_storable(value):
            raise ValueError(f"{key!r}: {TEXT_RULE}")
    return values


def _id_schema(pattern: str, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": ID_MAX_LENGTH,
            "pattern": f"^{pattern}$",
            "description": description,
        }
    )


CustomerId = Annotated[
    str, AfterValidator(_new_id), _id_schema(ID_PATTERN, f"{ID_RULE}; see docs/ids.md.")
]
"""An id a customer is stored under."""

LookupId = Annotated[
    str,
    AfterValidator(_lookup_id),
    _id_schema(LOOKUP_ID_PATTERN, f"{LOOKUP_ID_RULE}, percent-encoded; see docs/ids.md."),
]
"""An id looked up: anything that can name a stored row (a customer's stored before "/" was
refused included), else a 422 naming the parameter."""

Time = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
"""A time with a UTC offset, in the range every store and library here can hold."""

Text = Annotated[str, AfterValidator(_text)]
"""Text that reaches the database, stored or compared."""

EventId = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH), AfterValidator(_text)]
"""A CRM's id of an event: any text that can be stored, as it never appears in a URL."""

TextMapping = AfterValidator(_keys_and_texts)
"""For a stored mapping of text keys to values: names the first key or text value that
cannot be stored (one call per mapping, not one per value)."""
