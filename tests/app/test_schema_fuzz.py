"""Schemathesis against the OpenAPI document, on both databases: requests generated from what
each operation documents (and from what it forbids), answered without a 5xx and as documented.

Each operation gets a bounded, derandomized run, so a failure names a reproducible input and the
whole file stays within a couple of minutes. Webhook bodies are signed as a real sender would
sign them, so generated events reach parsing and storage rather than stopping at the signature.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from standardwebhooks import Webhook

from app.config import Settings
from app.main import create_app
from app.webhooks.hubspot import signature_v3
from tests.app.conftest import EVENTS_SECRET, HUBSPOT_SECRET

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("DEALNODE_FUZZ_EXAMPLES", "30"))
"""Generated requests per operation and database (a longer hunt: DEALNODE_FUZZ_EXAMPLES=500)."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SKIPPED = {"GET /metrics"}
"""Prometheus text, not JSON: its own tests check it."""


def _operations() -> list[str]:
    document = create_app(Settings()).openapi()
    found = [
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    return [name for name in found if name not in SKIPPED]


def _signed_headers(path: str, body: bytes) -> dict[str, str]:
    if path.endswith("/hubspot"):
        stamp = str(int(time.time() * 1000))
        uri = f"http://testserver{path}"
        return {
            "X-HubSpot-Request-Timestamp": stamp,
            "X-HubSpot-Signature-v3": signature_v3(HUBSPOT_SECRET, "POST", uri, body, stamp),
        }
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return {}  # no Standard Webhooks sender can sign it; the answer must still be a 401
    when = datetime.now(UTC)
    message_id = f"msg_fuzz_{time.monotonic_ns()}"
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(EVENTS_SECRET).sign(message_id, when, text),
    }


def _send(client: TestClient, case: Any, key: dict[str, str]) -> Any:
    headers = {**key, **{k: str(v) for k, v in (case.headers or {}).items()}}
    content: bytes | None = None
    if not isinstance(case.body, schemathesis.core.NotSet):
        body = case.body
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["content-type"] = case.media_type or "application/json"
    path = case.formatted_path
    if "/webhooks/" in path and content is not None:
        headers.update(_signed_headers(path, content))
    return client.request(
        case.method, path, params=case.query or None, content=content, headers=headers
    )


@pytest.mark.parametrize("operation", _operations())
def test_generated_requests_get_documented_answers_and_no_5xx(
    client: TestClient, admin_key: dict[str, str], operation: str
) -> None:
    method, path = operation.split(" ", 1)
    schema = schemathesis.openapi.from_dict(client.app.openapi())  # type: ignore[attr-defined]
    operation_ = schema[path][method]
    strategy = st.one_of(
        operation_.as_strategy(GenerationMode.POSITIVE),
        operation_.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = _send(client, case, admin_key)
        case.validate_response(response, checks=CHECKS)

    check()
