"""The OpenAPI document and the docs page: security, real error bodies, webhooks, examples."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.notifications.payload import at_risk_rose, state_changed
from app.openapi import REQUEST_EXAMPLES, ROUTE_ERRORS, Problem
from app.webhooks.docs import AtRisk, StateChanged

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def v1_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        if path.startswith("/v1/"):
            for method, operation in operations.items():
                yield method, path, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_bearer_key_is_a_security_scheme_every_keyed_route_uses(
    document: dict[str, Any],
) -> None:
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for _, path, operation in v1_operations(document):
        if path.startswith("/v1/webhooks/"):
            assert "security" not in operation  # signed instead
        else:
            assert operation["security"] == [{"apiKey": []}], path
    for operation in document["paths"]["/v1/predict"].values():
        names = [p["name"].lower() for p in operation.get("parameters", [])]
        assert "authorization" not in names  # the scheme sends it, not a form field


def test_every_v1_operation_documents_its_errors_as_problem_documents(
    document: dict[str, Any],
) -> None:
    seen = set()
    for method, path, operation in v1_operations(document):
        seen.add((method, path))
        assert (method, path) in ROUTE_ERRORS, f"{method} {path}: list its errors in ROUTE_ERRORS"
        responses = operation["responses"]
        for status in ROUTE_ERRORS[method, path]:
            media = responses[str(status)]["content"]["application/problem+json"]
            assert media["schema"] == {"$ref": PROBLEM_REF}
            example = Problem.model_validate(media["example"])
            assert example.status == status
        assert "401" in responses
        assert "application/json" not in responses.get("422", {}).get("content", {})
    assert seen == set(ROUTE_ERRORS)
    every = {s for statuses in ROUTE_ERRORS.values() for s in statuses}
    assert {400, 401, 403, 404, 413, 422, 503} <= every
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_reference_in_the_document_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_v1_operation_refuses_a_missing_credential_in_the_documented_shape(
    client: TestClient, document: dict[str, Any]
) -> None:
    for method, path, _ in v1_operations(document):
        response = client.request(method, _fill(path), json={} if method == "post" else None)
        assert response.status_code == 401, f"{method} {path}"
        assert response.headers["content-type"] == "application/problem+json"
        problem = Problem.model_validate(response.json())
        assert problem.code == "unauthorized"


def test_real_errors_have_the_documented_shape(
    client: TestClient, score_key: dict[str, str]
) -> None:
    answers = {
        404: client.get("/v1/customers/nobody", headers=score_key),
        422: client.post("/v1/predict", json={"visits": -1}, headers=score_key),
        400: client.post(
            "/v1/predict", content=b"{", headers={**score_key, "content-type": "application/json"}
        ),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert Problem.model_validate(response.json()).status == status
    assert Problem.model_validate(answers[422].json()).errors


def test_webhooks_both_ways_are_documented(document: dict[str, Any]) -> None:
    outbound = document["webhooks"]["customer.state_changed"]["post"]
    body = outbound["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/StateChanged"}
    headers = {p["name"] for p in outbound["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}

    events = document["paths"]["/v1/webhooks/events"]["post"]
    headers = {p["name"] for p in events["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert "#/components/schemas/CrmEvent" in set(refs(events["requestBody"]))
    hubspot = document["paths"]["/v1/webhooks/hubspot"]["post"]
    headers = {p["name"] for p in hubspot["parameters"] if p["in"] == "header"}
    assert headers == {"X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"}
    assert "#/components/schemas/HubSpotEvent" in set(refs(hubspot["requestBody"]))


def test_the_documented_notification_is_the_payload_subscribers_get(
    client: TestClient, score_key: dict[str, str]
) -> None:
    read = client.post("/v1/predict", json={"visits": 4}, headers=score_key).json()
    payload = state_changed("crm-1", "potential", read)
    assert StateChanged.model_validate(payload).model_dump(mode="json", exclude={"as_of"}) == {
        k: v for k, v in payload.items() if k != "as_of"
    }


def test_the_request_examples_are_documented_and_accepted(
    client: TestClient, document: dict[str, Any], score_key: dict[str, str]
) -> None:
    for (method, path), examples in REQUEST_EXAMPLES.items():
        media = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        assert media["examples"] == examples
        for name, example in examples.items():
            response = client.request(method, path, json=example["value"], headers=score_key)
            assert response.status_code == 200, (path, name, response.json())


def test_the_docs_page_and_its_assets_come_from_the_app(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    links = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    links += re.findall(r"url: ?'([^']+)'", page.text)
    assert links
    assert all(link.startswith("/") for link in links), links
    assert "https://" not in page.text
    assert "http://" not in page.text
    for link in links:
        asset = client.get(link)
        assert asset.status_code == 200, link
        assert asset.content
    assert client.get("/redoc").status_code == 404  # its script would come from a CDN


def test_the_at_risk_fields_and_notification_are_documented(
    client: TestClient, document: dict[str, Any], score_key: dict[str, str]
) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["AtRiskRead"]["properties"]) == {"probability", "flagged", "reasons"}
    assert "at_risk" in schemas["ScoreRead"]["properties"]
    assert "at_risk" in schemas["QueueItem"]["properties"]
    queue = document["paths"]["/v1/customers"]["get"]
    assert "at_risk" in {p["name"] for p in queue["parameters"]}
    outbound = document["webhooks"]["customer.at_risk"]["post"]
    body = outbound["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AtRisk"}
    headers = {p["name"] for p in outbound["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    read = client.post("/v1/predict", json={"visits": 4}, headers=score_key).json()
    read["customer_id"] = "crm-1"
    payload = at_risk_rose("crm-1", read)
    assert AtRisk.model_validate(payload).model_dump(mode="json", exclude={"as_of"}) == {
        k: v for k, v in payload.items() if k != "as_of"
    }
