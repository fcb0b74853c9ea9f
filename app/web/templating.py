"""The pages' templates, their filters, and the headers every page is sent with."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.web.sessions import SignedIn

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

PAGE_HEADERS = {
    # Pages load only the app's own files; no inline script can run, no other site frames them.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Customer data must not linger in shared caches or the browser's back-forward cache.
    "Cache-Control": "no-store",
}


NONE = "\u2013"
"""An en dash for a missing value."""


def _percent(value: float | None) -> str:
    return NONE if value is None else f"{value:.0%}"


def _when(value: datetime | date | str | None) -> str:
    if value is None:
        return NONE
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _label(value: str | None) -> str:
    return NONE if not value else value.replace("_", " ")


templates.env.filters["percent"] = _percent
templates.env.filters["when"] = _when
templates.env.filters["label"] = _label


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    viewer: SignedIn | None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page with the signed-in viewer (for navigation and forms' CSRF tokens)."""
    response = templates.TemplateResponse(
        request, name, {"viewer": viewer, **context}, status_code=status_code
    )
    response.headers.update(PAGE_HEADERS)
    return response
