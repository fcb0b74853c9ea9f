"""Generated bodies against every endpoint: whatever arrives, the answer is never a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.app.test_input_types import post_json
from training.features import RAW_COUNT_INPUTS

# Sent with `post_json`, which writes NaN, Infinity and lone surrogates as clients may.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["\ud800", "a\x00b"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
field_names = st.sampled_from(
    [
        *RAW_COUNT_INPUTS,
        "first_contact_at",
        "last_contact_at",
        "customer_id",
        "as_of",
        "extras",
        "objection_kind",
        "customers",
        "surprise",
    ]
)
field_values = (
    json_values
    | st.integers(min_value=-5, max_value=10**12)
    | st.datetimes(timezones=st.timezones() | st.none()).map(lambda d: d.isoformat())
    | st.sampled_from(["price", "trust", "", "2026-11-01T00:00:00Z", "2026-13-45"])
)
bodies = st.dictionaries(field_names, field_values, max_size=8)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@SETTINGS
@given(body=bodies | json_values)
def test_fuzz_predict_never_500(client: TestClient, score_key: dict[str, str], body: Any) -> None:
    response = post_json(client, "/v1/predict", body, score_key)
    assert response.status_code < 500, response.text
    assert response.status_code == 200 or response.json()["status"] == response.status_code


@SETTINGS
@given(body=st.lists(bodies, max_size=5).map(lambda c: {"customers": c}) | json_values)
def test_fuzz_batch_never_500(client: TestClient, score_key: dict[str, str], body: Any) -> None:
    response = post_json(client, "/v1/predict/batch", body, score_key)
    assert response.status_code < 500, response.text


@SETTINGS
@given(
    customer_id=st.text(min_size=1, max_size=40).filter(
        lambda s: "/" not in s and s not in {".", ".."}
    ),
    params=st.dictionaries(
        st.sampled_from(["state", "action", "min_confidence", "limit", "cursor", "open_objection"]),
        st.text(max_size=12)
        | st.integers(-3, 10**6).map(str)
        | st.floats(allow_nan=False, allow_infinity=False).map(str),
        max_size=4,
    ),
)
def test_fuzz_reads_never_500(
    client: TestClient,
    score_key: dict[str, str],
    admin_key: dict[str, str],
    customer_id: str,
    params: dict[str, str],
) -> None:
    quoted = quote(customer_id, safe="")
    assert client.get(f"/v1/customers/{quoted}", headers=score_key).status_code < 500
    assert client.get("/v1/customers", params=params, headers=score_key).status_code < 500
    assert client.post(f"/v1/models/{quoted}/activate", headers=admin_key).status_code < 500


@SETTINGS
@given(
    body=st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "event_id",
                    "customer_id",
                    "type",
                    "occurred_at",
                    "attributes",
                    "eventId",
                    "objectId",
                    "occurredAt",
                    "subscriptionType",
                    "propertyName",
                    "propertyValue",
                ]
            ),
            field_values | st.integers(min_value=-(10**20), max_value=10**20),
            max_size=8,
        ),
        max_size=4,
    )
    | json_values
)
def test_fuzz_signed_webhooks_never_500(client: TestClient, body: Any) -> None:
    """Bodies that pass the signature check but are anything at all must still get a 4xx."""
    import time

    from standardwebhooks import Webhook

    from app.webhooks.hubspot import signature_v3
    from tests.app.conftest import EVENTS_SECRET, HUBSPOT_SECRET

    raw = json.dumps(body)
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_fuzz",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(EVENTS_SECRET).sign("msg_fuzz", now, raw),
    }
    response = client.post("/v1/webhooks/events", content=raw.encode(), headers=headers)
    assert response.status_code < 500, response.text
    stamp = str(int(time.time() * 1000))
    signature = signature_v3(
        HUBSPOT_SECRET, "POST", "http://testserver/v1/webhooks/hubspot", raw.encode(), stamp
    )
    response = client.post(
        "/v1/webhooks/hubspot",
        content=raw.encode(),
        headers={"X-HubSpot-Request-Timestamp": stamp, "X-HubSpot-Signature-v3": signature},
    )
    assert response.status_code < 500, response.text
