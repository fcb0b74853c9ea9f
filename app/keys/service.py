"""API keys: created once and shown once, stored only as a SHA-256 hash, checked in constant time.

A key looks like `dn_<key id>_<secret>`. The key id finds the row without scanning; the secret
has 256 bits of entropy, so a fast hash is enough (no password-style stretching is needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound, Unauthorized
from app.tables import ApiKey

Scope = Literal["score", "admin"]
PREFIX = "dn"
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, *, scope: Scope, name: str = "") -> tuple[str, ApiKey]:
    """Create a key and return its plain text (never stored) with the stored row."""
    key_id = secrets.token_hex(6)
    plain = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        key_id=key_id,
        key_hash=_hash(plain),
        scope=scope,
        name=name,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return plain, row


def authenticate(session: Session, authorization: str | None) -> ApiKey:
    """Return the active key named by an `Authorization: Bearer` header, or raise Unauthorized."""
    if not authorization:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send the API key as Authorization: Bearer <key>")
    parts = token.strip().split("_", 2)
    key_id = parts[1] if len(parts) == 3 and parts[0] == PREFIX else ""
    row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id)) if key_id else None
    # Compare even when no row matched, so timing does not tell which key ids exist.
    expected = row.key_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(expected, _hash(token.strip()))
    if row is None or not matches or row.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    return row


@dataclass(frozen=True)
class Caller:
    """Who a verified key is: what it may do, and the name records give it."""

    scope: str
    name: str
    """The key's name, or its id when it has none."""


def caller_of(key: ApiKey) -> Caller:
    """The caller an active key stands for."""
    return Caller(key.scope, key.name or key.key_id)


class KeyCache:
    """Recently verified keys (by hash) and who they are, for `ttl` seconds.

    Verifying a key is a database round trip, the largest cost of a fast prediction; caching
    it means a revoked key keeps working for at most `ttl` seconds in each server process.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[Caller, float]] = {}

    def get(self, authorization: str) -> Caller | None:
        """The cached caller for this header, or None."""
        if self.ttl <= 0:
            return None
        entry = self._entries.get(_hash(authorization))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, authorization: str, caller: Caller) -> None:
        """Remember a header that verified, with its caller."""
        if self.ttl > 0:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[_hash(authorization)] = (caller, time.monotonic() + self.ttl)


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, newest first (hashes only; plain keys are never stored)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


def revoke_key(session: Session, *, key_id: str) -> ApiKey:
    """Revoke a key by its id (the part after `dn_`); revoking twice is harmless."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if row is None:
        raise NotFound(f"no API key with id {key_id!r}", field="key_id")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    session.flush()
    return row
