"""API keys: created once and shown once, stored only as a SHA-256 hash, checked in constant time.

A key looks like `dn_<key id>_<secret>`. The key id finds the row without scanning; the secret
has 256 bits of entropy, so a fast hash is enough (no password-style stretching is needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
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


class KeyCache:
    """Recently verified keys (by hash) and their scope, for `ttl` seconds.

    Verifying a key is a database round trip, the largest cost of a fast prediction; caching
    it means a revoked key keeps working for at most `ttl` seconds in each server process.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[str, float]] = {}

    def get(self, authorization: str) -> str | None:
        """The cached scope for this header, or None."""
        if self.ttl <= 0:
            return None
        entry = self._entries.get(_hash(authorization))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, authorization: str, scope: str) -> None:
        """Remember a header that verified, with its scope."""
        if self.ttl > 0:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[_hash(authorization)] = (scope, time.monotonic() + self.ttl)


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
