"""Every error is one RFC 9457 problem document, whoever raised it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import AppError
from app.logs import RequestIdFilter
from app.main import create_app

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code", "field"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/v1/nowhere", None, 404, "http_404"),
        ("DELETE", "/v1/predict", None, 405, "http_405"),
        ("GET", "/v1/customers/nobody", None, 404, "not_found"),
        ("POST", "/v1/predict", {"visits": -1}, 422, "invalid_input"),
        ("POST", "/v1/predict", b'{"visits": 3', 400, "malformed_json"),
        ("POST", "/v1/predict", b'{"a": "' + b"x" * (1 << 20) + b'"}', 413, "payload_too_large"),
    ],
)
def test_errors_are_problem_documents(
    client: TestClient,
    score_key: dict[str, str],
    method: str,
    path: str,
    body: object,
    status: int,
    code: str,
) -> None:
    headers = {**score_key, "Content-Type": "application/json"}
    if isinstance(body, bytes):
        response = client.request(method, path, content=body, headers=headers)
    else:
        response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem.keys() >= PROBLEM_KEYS
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"].endswith(code)
    assert problem["instance"] == path
    assert problem["title"]
    assert problem["detail"]


def test_missing_key_is_a_problem_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/v1/customers")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthorized"


def test_validation_problem_lists_each_field(client: TestClient, score_key: dict[str, str]) -> None:
    response = client.post("/v1/predict", json={"visits": -1, "replies": -2}, headers=score_key)
    assert response.status_code == 422
    fields = [error["field"] for error in response.json()["errors"]]
    assert fields == ["visits", "replies"]


def test_every_problem_code_is_documented() -> None:
    documented = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
    codes = {cls.code for cls in _subclasses(AppError)} | {"malformed_json", "internal_error"}
    missing = sorted(code for code in codes if f"`{code}`" not in documented)
    assert not missing, f"docs/errors.md does not describe {missing}"


def _subclasses(cls: type[AppError]) -> list[type[AppError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_an_unexpected_error_is_a_logged_500_problem_with_the_request_id(
    settings: Settings,
    db: Session,  # noqa: ARG001  (emptied after the test)
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(settings)

    def explode() -> None:
        raise RuntimeError("a bug, not the client's fault")

    app.add_api_route("/boom", explode)
    caplog.handler.addFilter(RequestIdFilter())  # as the server's own handler has it
    with TestClient(app) as client, caplog.at_level(logging.ERROR, logger="dealnode"):
        response = client.get("/boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-42"
    assert response.json()["code"] == "internal_error"
    assert "a bug" not in response.text
    (record,) = [r for r in caplog.records if r.exc_info]
    assert getattr(record, "request_id", None) == "req-42"
