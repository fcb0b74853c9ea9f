"""Sign a test client in to the web app the way a browser does: the form, its token, a post."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx2 import Response

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found is not None, "no form with a CSRF token on the page"
    return found.group(1)


def plain_key(headers: dict[str, str]) -> str:
    """The API key in a test's Authorization headers."""
    return headers["Authorization"].removeprefix("Bearer ")


def sign_in(client: TestClient, headers: dict[str, str], *, next_page: str = "/app") -> Response:
    """Post the sign-in form with the key in `headers`; the client keeps the cookie."""
    form = client.get("/app/sign-in")
    assert form.status_code == 200
    return client.post(
        "/app/sign-in",
        data={"api_key": plain_key(headers), "csrf_token": csrf_of(form.text), "next": next_page},
        follow_redirects=False,
    )
