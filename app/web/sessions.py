"""Web sessions: an API key exchanged for a random cookie token, whose hash alone is stored.

The cookie token has 256 bits of entropy, so SHA-256 is enough (as for keys). The CSRF token of
a session is an HMAC of its cookie token: a page can embed it, a forger without the cookie
cannot compute it, and nothing more is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.keys import service as key_service
from app.keys.service import Caller
from app.tables import ApiKey, WebSession


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_of(token: str) -> str:
    """The CSRF token that a session's forms carry."""
    return hmac.new(token.encode(), b"dealnode web form", hashlib.sha256).hexdigest()


def csrf_matches(token: str, sent: str | None) -> bool:
    """Whether a form's CSRF token is its session's, compared in constant time."""
    return sent is not None and hmac.compare_digest(csrf_token_of(token), sent)


@dataclass(frozen=True)
class SignedIn:
    """A live web session: who it is, and its cookie token (for the CSRF token)."""

    caller: Caller
    token: str

    @property
    def csrf_token(self) -> str:
        """The token every form of this session carries."""
        return csrf_token_of(self.token)

    @property
    def is_admin(self) -> bool:
        """Whether the session's key may activate models and retry deliveries."""
        return self.caller.scope == "admin"


def sign_in(session: Session, *, api_key: str, now: datetime, lifetime: timedelta) -> str:
    """Start a session for a valid API key and return its cookie token; Unauthorized otherwise."""
    key = key_service.authenticate(session, f"Bearer {api_key.strip()}")
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_hash(token), api_key_id=key.id, created_at=now, expires_at=now + lifetime
        )
    )
    # Each sign-in is a chance to forget the key's sessions that ran out.
    session.execute(
        delete(WebSession).where(WebSession.api_key_id == key.id, WebSession.expires_at <= now)
    )
    session.flush()
    return token


def find_session(session: Session, *, token: str, now: datetime) -> SignedIn | None:
    """The live session a cookie token names: unexpired, its key not revoked; else None."""
    found = session.execute(
        select(ApiKey)
        .join(WebSession, WebSession.api_key_id == ApiKey.id)
        .where(
            WebSession.token_hash == _hash(token),
            WebSession.expires_at > now,
            ApiKey.revoked_at.is_(None),
        )
    ).scalar_one_or_none()
    return None if found is None else SignedIn(key_service.caller_of(found), token)


def sign_out(session: Session, *, token: str) -> None:
    """End the session a cookie token names (nothing if there is none)."""
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
    session.flush()
