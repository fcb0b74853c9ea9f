"""Who is signed in to the web app, and the checks a page or a form post needs.

A page without a live session sends the browser to the sign-in form; a viewer asking for an
admin's page, or a form post without its session's CSRF token, is refused with 403.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request

from app.deps import SessionDep
from app.errors import InvalidInput
from app.web.forms import read_form
from app.web.sessions import SignedIn, csrf_matches, find_session

SESSION_COOKIE = "dealnode_session"
COOKIE_PATH = "/app"


class SignInRequired(Exception):
    """No live session: the browser is sent to sign in, and back here afterwards."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class WebForbidden(Exception):
    """Signed in, but not allowed this (shown as a 403 page saying why)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def sign_in_url(request: Request, back_to: str | None = None) -> str:
    """The sign-in form's address, remembering the page to come back to."""
    base = request.url_for("sign_in_form").path
    return f"{base}?{urlencode({'next': back_to})}" if back_to else base


def signed_in(request: Request, session: SessionDep) -> SignedIn:
    """The live session of the request's cookie, or SignInRequired."""
    token = request.cookies.get(SESSION_COOKIE)
    found = find_session(session, token=token, now=datetime.now(UTC)) if token else None
    if found is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(request.url.path + query if request.method == "GET" else "")
    return found


Viewer = Annotated[SignedIn, Depends(signed_in)]
"""Anyone signed in: a score key views every page."""


def admin_signed_in(viewer: Viewer) -> SignedIn:
    """The session, if its key is an admin key; WebForbidden otherwise."""
    if not viewer.is_admin:
        raise WebForbidden("This needs an admin key; you are signed in with a score key.")
    return viewer


Admin = Annotated[SignedIn, Depends(admin_signed_in)]
"""Signed in with an admin key: may activate models and retry deliveries."""


async def checked_form(request: Request, viewer: Viewer) -> dict[str, str]:
    """The posted form, if it carries the session's CSRF token; WebForbidden otherwise (a body
    that is no form carries no token: refused the same way, before anything reads it)."""
    try:
        form = await read_form(request)
    except InvalidInput:
        form = {}
    if not csrf_matches(viewer.token, form.get("csrf_token")):
        raise WebForbidden("This form was not sent from a page of this app; reload and retry.")
    return form


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]
"""A form post whose CSRF token is its session's."""
