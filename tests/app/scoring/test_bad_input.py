"""Bad input: a 4xx JSON error naming the field, never a 500, and stored data untouched."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

GOOD: dict[str, Any] = {"customer_id": "keep-me", "visits": 4, "replies": 1}


@pytest.fixture
def stored(client: TestClient, score_key: dict[str, str]) -> dict[str, Any]:
    """A customer stored before the bad request arrives."""
    response = client.post("/v1/predict", json=GOOD, headers=score_key)
    assert response.status_code == 200
    customer: dict[str, Any] = client.get("/v1/customers/keep-me", headers=score_key).json()
    return customer


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "visits": -1}, "visits"),
        ({**GOOD, "visits": 2.5}, "visits"),
        ({**GOOD, "visits": 2**31}, "visits"),  # more than the count column holds
        ({**GOOD, "replies": 10**23}, "replies"),
        ({**GOOD, "replies": "many"}, "replies"),
        ({**GOOD, "colour": "blue"}, "colour"),
        (
            {
                **GOOD,
                "first_contact_at": "2026-05-01T00:00:00Z",
                "last_contact_at": "2026-04-01T00:00:00Z",
            },
            "last_contact_at",
        ),
        ({**GOOD, "last_contact_at": "2999-01-01T00:00:00Z"}, "last_contact_at"),
        ({**GOOD, "as_of": "2999-01-01T00:00:00Z"}, "as_of"),
        ({**GOOD, "first_contact_at": "2026-05-01T00:00:00"}, "first_contact_at"),
        ({**GOOD, "visits_30d": 9}, "visits_30d"),
        ({**GOOD, "visits": 9, "visits_30d": 5, "visits_90d": 3}, "visits_90d"),
        ({**GOOD, "extras": {"shoe_size": 9}}, "shoe_size"),
        ({**GOOD, "objection_kind": "colour"}, "objection_kind"),
    ],
)
def test_predict_rejects_bad_values_naming_the_field(
    client: TestClient,
    score_key: dict[str, str],
    stored: dict[str, Any],
    body: dict[str, Any],
    field: str,
) -> None:
    response = client.post("/v1/predict", json=body, headers=score_key)
    assert response.status_code == 422, response.text
    error = response.json()
    assert field in error["detail"]
    assert error["field"].endswith(field)
    assert client.get("/v1/customers/keep-me", headers=score_key).json() == stored


@pytest.mark.parametrize("raw", [b'{"visits": NaN}', b'{"visits": Infinity}', b'{"visits": 1e999}'])
def test_predict_rejects_non_finite_numbers(
    client: TestClient, score_key: dict[str, str], raw: bytes
) -> None:
    response = client.post(
        "/v1/predict", content=raw, headers={**score_key, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "visits" in response.json()["detail"]


def test_predict_rejects_malformed_json_with_400(
    client: TestClient, score_key: dict[str, str]
) -> None:
    response = client.post(
        "/v1/predict",
        content=b'{"visits": 3',
        headers={**score_key, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_body_over_one_mebibyte_gets_413(client: TestClient, score_key: dict[str, str]) -> None:
    big = b'{"customer_id": "' + b"x" * (1 << 20) + b'"}'
    response = client.post(
        "/v1/predict", content=big, headers={**score_key, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_batch_over_the_limit_is_refused(client: TestClient, score_key: dict[str, str]) -> None:
    response = client.post(
        "/v1/predict/batch", json={"customers": [{"visits": 1}] * 1001}, headers=score_key
    )
    assert response.status_code == 422
    assert "customers" in response.json()["detail"]


def test_batch_with_a_repeated_id_is_refused_and_stores_nothing(
    client: TestClient, score_key: dict[str, str]
) -> None:
    body = {"customers": [{"customer_id": "twin", "visits": 1}, {"customer_id": "twin"}]}
    response = client.post("/v1/predict/batch", json=body, headers=score_key)
    assert response.status_code == 422
    assert "twin" in response.json()["detail"]
    assert client.get("/v1/customers/twin", headers=score_key).status_code == 404


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"visits": 2, "visits_30d": 3}, "customers.2.visits_30d"),
        ({"last_contact_at": "2999-01-01T00:00:00Z"}, "customers.2.last_contact_at"),
        ({"extras": {"shoe_size": 9}}, "customers.2.extras.shoe_size"),
    ],
)
def test_batch_names_the_customer_and_field_and_stores_nothing(
    client: TestClient, score_key: dict[str, str], bad: dict[str, Any], field: str
) -> None:
    customers = [{"customer_id": f"fine-{n}", "visits": 1} for n in range(4)]
    customers[2] |= bad
    response = client.post("/v1/predict/batch", json={"customers": customers}, headers=score_key)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["field"] == field
    assert field in error["detail"]
    assert client.get("/v1/customers/fine-0", headers=score_key).status_code == 404


def test_a_batch_names_its_first_bad_customer_whatever_is_wrong_with_it(
    client: TestClient, score_key: dict[str, str]
) -> None:
    customers: list[dict[str, Any]] = [{"visits": 1} for _ in range(6)]
    customers[1]["extras"] = {"shoe_size": 9}  # an unknown input, checked after the counts
    customers[4]["visits_30d"] = 5  # above its total
    response = client.post("/v1/predict/batch", json={"customers": customers}, headers=score_key)
    assert response.status_code == 422
    assert response.json()["field"] == "customers.1.extras.shoe_size"


def test_a_batch_of_one_names_its_customer_too(
    client: TestClient, score_key: dict[str, str]
) -> None:
    body = {"customers": [{"visits": 1, "visits_30d": 2}]}
    response = client.post("/v1/predict/batch", json=body, headers=score_key)
    assert response.status_code == 422
    assert response.json()["field"] == "customers.0.visits_30d"


def test_unknown_customer_is_404(client: TestClient, score_key: dict[str, str]) -> None:
    response = client.get("/v1/customers/nobody", headers=score_key)
    assert response.status_code == 404
    assert response.json()["field"] == "customer_id"


def test_bad_cursor_is_422(client: TestClient, score_key: dict[str, str]) -> None:
    response = client.get("/v1/customers?cursor=%%%", headers=score_key)
    assert response.status_code == 422
    assert response.json()["field"] == "cursor"
