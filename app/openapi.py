"""The OpenAPI document as clients need it: real error bodies, webhook bodies, examples.

FastAPI documents what a route's signature shows. The error shape (RFC 9457, from
`errors.py`), the webhook bodies (read raw, since signatures cover the raw bytes) and the
examples the docs page fills in are added here, once, when the document is first built.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from app.errors import PROBLEM_MEDIA_TYPE, problem
from app.webhooks.docs import INBOUND, inbound_schemas

REF = "#/components/schemas/{model}"


class FieldError(BaseModel):
    """One failed field of a validation error."""

    field: str
    detail: str


class Problem(BaseModel):
    """An error, as an RFC 9457 problem document (`application/problem+json`)."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="A URN named after `code`.")
    title: str = Field(description="The HTTP status phrase.")
    status: int
    detail: str = Field(description="What went wrong, for a person.")
    instance: str | None = Field(description="The path that was requested.")
    code: str = Field(description="A stable machine name, e.g. `invalid_input`.")
    field: str | None = Field(description="The input to fix, when one is to blame.")
    errors: list[FieldError] | None = Field(
        default=None, description="Validation errors only: each failed field (at most 20)."
    )


_STATUS = {
    400: ("malformed_json", "The body is not JSON.", "malformed JSON: expecting value", None),
    401: (
        "unauthorized",
        "No valid API key (send `Authorization: Bearer <key>`).",
        "invalid or revoked API key",
        None,
    ),
    403: (
        "forbidden",
        "The key is valid but not an admin key.",
        "this endpoint needs an admin key",
        None,
    ),
    404: ("not_found", "No such resource.", "no run 'nightly-1'", "run_id"),
    413: (
        "payload_too_large",
        "The body is over the size limit (DEALNODE_MAX_BODY_BYTES).",
        "body exceeds 1048576 bytes",
        None,
    ),
    422: (
        "invalid_input",
        "A value is invalid: `field` names the first, `errors` lists up to 20.",
        "visits: Input should be greater than or equal to 0",
        "visits",
    ),
    503: (
        "model_unavailable",
        "No model is loaded yet; retry later.",
        "no model is loaded; train and promote one",
        None,
    ),
}

ROUTE_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/predict"): (400, 401, 413, 422, 503),
    ("post", "/v1/predict/batch"): (400, 401, 413, 422, 503),
    ("get", "/v1/customers"): (401, 422),
    ("get", "/v1/customers/{customer_id}"): (401, 404, 422),
    ("get", "/v1/models"): (401,),
    ("get", "/v1/models/current"): (401, 503),
    ("get", "/v1/models/current/monitoring"): (401, 422, 503),
    ("post", "/v1/models/{version}/activate"): (401, 403, 404, 422),
    ("get", "/v1/runs"): (401, 422),
    ("get", "/v1/runs/{run_id}"): (401, 404, 422),
    ("post", "/v1/webhooks/events"): (401, 413, 422, 503),
    ("post", "/v1/webhooks/hubspot"): (401, 413, 422, 503),
    ("get", "/v1/notifications"): (401, 403, 422),
    ("post", "/v1/notifications/{notification_id}/retry"): (401, 403, 404, 422),
}
"""The errors each `/v1` operation can answer with; one missing here gets `DEFAULT_ERRORS`
(and fails the test that every operation is listed)."""
DEFAULT_ERRORS = (401, 422)

PREDICT_EXAMPLE: dict[str, Any] = {
    "visits": 14,
    "replies": 5,
    "quotes": 2,
    "objections": 1,
    "meetings": 1,
    "purchases": 0,
    "visits_30d": 6,
    "replies_30d": 3,
    "quotes_30d": 1,
    "objections_30d": 1,
    "meetings_30d": 1,
    "purchases_30d": 0,
    "first_contact_at": "2026-08-03T09:15:00Z",
    "last_contact_at": "2026-11-20T16:40:00Z",
    "objection_kind": "price",
}
REQUEST_EXAMPLES: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("post", "/v1/predict"): {
        "unstored": {
            "summary": "Score a customer (nothing stored)",
            "value": PREDICT_EXAMPLE,
        },
        "stored": {
            "summary": "Score and store a customer (with an id)",
            "value": {"customer_id": "crm-10042", **PREDICT_EXAMPLE},
        },
        "sparse": {"summary": "Unknown counts left out", "value": {"visits": 3, "replies": 1}},
    },
    ("post", "/v1/predict/batch"): {
        "two": {
            "summary": "Two customers, as of one time",
            "value": {
                "as_of": "2026-11-30T00:00:00Z",
                "customers": [
                    {"customer_id": "crm-10042", **PREDICT_EXAMPLE},
                    {"customer_id": "crm-10043", "visits": 2, "replies": 0},
                ],
            },
        }
    },
}
"""Named examples of the main requests; the docs page's "Try it out" starts from the first."""


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document (built once, then cached)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses, webhook bodies and examples to FastAPI's document."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema(
        [(Problem, "serialization"), *((m, "validation") for m in inbound_schemas())],
        ref_template=REF,
    )
    schemas.update(defs["$defs"])
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if not path.startswith("/v1/"):
                continue
            key = (method, path)
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's default, not the shape the service sends
            for status in ROUTE_ERRORS.get(key, DEFAULT_ERRORS):
                responses[str(status)] = _problem_response(status, path)
            if key in INBOUND:
                operation.update(INBOUND[key])
            if key in REQUEST_EXAMPLES:
                media = operation["requestBody"]["content"]["application/json"]
                media["examples"] = REQUEST_EXAMPLES[key]
    for operations in document.get("webhooks", {}).values():
        for operation in operations.values():
            operation["responses"].pop("422", None)  # the subscriber's answer, not ours
    _drop_unused(schemas, document, ("HTTPValidationError", "ValidationError"))
    return document


def _problem_response(status: int, path: str) -> dict[str, Any]:
    code, description, detail, field = _STATUS[status]
    return {
        "description": description,
        "content": {
            PROBLEM_MEDIA_TYPE: {
                "schema": {"$ref": REF.format(model="Problem")},
                "example": problem(status, code, detail, field=field, instance=path),
            }
        },
    }


def _drop_unused(schemas: dict[str, Any], document: dict[str, Any], names: tuple[str, ...]) -> None:
    """Remove FastAPI's validation-error schemas once no response refers to them."""
    text = json.dumps({k: v for k, v in document.items() if k != "components"})
    text += json.dumps({k: v for k, v in schemas.items() if k not in names})
    for name in names:
        if REF.format(model=name) not in text:
            schemas.pop(name, None)
