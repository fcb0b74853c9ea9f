"""The docs page (Swagger UI at /docs), its script and style served by the app itself.

FastAPI's default page loads Swagger UI from a CDN, so it is blank offline and behind most
firewalls. The `fastapi-offline` package ships Swagger UI 5 (which reads OpenAPI 3.1, as
FastAPI writes it); this is FastAPI's self-hosting recipe with those files.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs/assets"


def add_docs_page(app: FastAPI) -> None:
    """Serve /docs and its assets; create the app with `docs_url=None, redoc_url=None`."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # No validator badge: it would send the document to a public validator. The key is
            # not persisted: an admin key would otherwise sit in the browser's localStorage.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
        )
