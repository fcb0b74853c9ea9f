"""Put the web app into the FastAPI app: its pages under /app, its static files, and how its
refusals look (a redirect to sign in, a 403 page) where the API would answer JSON."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.web.auth import SignInRequired, WebForbidden, sign_in_url
from app.web.model_router import router as model_router
from app.web.router import router as pages_router
from app.web.templating import STATIC_DIR, page

STATIC_URL = "/app/static"


def add_web_app(app: FastAPI) -> None:
    """Serve the web app's pages and files under /app."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="web-static")
    app.include_router(pages_router)
    app.include_router(model_router)

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(request, exc.back_to or None), status_code=303)

    @app.exception_handler(WebForbidden)
    async def refused(request: Request, exc: WebForbidden) -> HTMLResponse:
        context = {"message": exc.message}
        return page(request, "refused.html", context, viewer=None, status_code=403)
