"""What DealNode accepts as an id, a time and a stored text: one rule each (docs/ids.md).

Every way in (the API, webhooks, `dealnode import`, mapping files and mapped exports) checks
against these, so nothing one of them accepts is later refused by the database, by a library
or by another way in, and every stored customer can be named in a URL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TypeVar

AnyTime = TypeVar("AnyTime", bound=datetime)

ID_MAX_LENGTH = 128
"""The id columns' width."""
ID_PATTERN = rf"(?!\.\.?$)[\x21-\x2e\x30-\x7e]{{1,{ID_MAX_LENGTH}}}"
"""New ids: printable ASCII without spaces or "/", and not "." or "..". Proxies and HTTP
clients rewrite a "/" (even as %2F) and the dot segments in a path, so such an id could be
stored but not read back; CRM ids (numbers, hex, GUIDs, e-mails, `acme:42`) fit easily."""
LOOKUP_ID_PATTERN = rf"[\x21-\x7e]{{1,{ID_MAX_LENGTH}}}"
"""Ids looked up: also those stored before "/" was refused, which stay readable."""
_ID = re.compile(ID_PATTERN)
_LOOKUP_ID = re.compile(LOOKUP_ID_PATTERN)
ID_RULE = 'an id is 1 to 128 printable ASCII characters, no space or "/", not "." or ".."'
LOOKUP_ID_RULE = "an id is 1 to 128 printable ASCII characters, no space"

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Times are at or after EARLIEST and before LATEST: wide for CRM history, and inside what
every library here represents (pandas stops in 1677 and 2262; Python cannot convert year 1
at UTC+1 to UTC)."""
EARLIEST_MS = int(EARLIEST.timestamp() * 1000)
LATEST_MS = int(LATEST.timestamp() * 1000)
TIME_RULE = "a time is between 1900-01-01 (included) and 2200-01-01 (excluded), UTC"

TEXT_RULE = "text cannot hold NUL (U+0000) or a lone surrogate"


class TimeOutOfRange(ValueError):
    """A time that parsed but is outside [EARLIEST, LATEST)."""


def is_id(value: str) -> bool:
    """Whether `value` may name a new customer."""
    return _ID.fullmatch(value) is not None


def is_lookup_id(value: str) -> bool:
    """Whether `value` may name something stored (ids from before the "/" rule included)."""
    return _LOOKUP_ID.fullmatch(value) is not None


def is_storable(text: str) -> bool:
    """Whether every database here can store `text`: PostgreSQL refuses NUL in text and
    JSON, and a lone surrogate has no UTF-8 encoding."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_time(value: AnyTime) -> AnyTime:
    """Return `value`, or raise TimeOutOfRange (comparing aware times never overflows, where
    converting one to UTC can)."""
    if not EARLIEST <= value < LATEST:
        raise TimeOutOfRange(f"{value.isoformat()} is outside the time range: {TIME_RULE}")
    return value
