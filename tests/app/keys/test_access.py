"""API keys: 401 without a valid key, 403 without the scope, open health endpoints."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.keys.service import create_key, revoke_key
from app.tables import ApiKey


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer dn_000000000000_forged"},
    ],
)
def test_protected_endpoints_answer_401_without_a_valid_key(
    client: TestClient, headers: dict[str, str]
) -> None:
    for method, path in [("post", "/v1/predict"), ("get", "/v1/customers"), ("get", "/v1/models")]:
        response = client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


def test_health_endpoints_are_open(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"model": True, "database": True}


def test_activate_needs_an_admin_key(
    client: TestClient, score_key: dict[str, str], second_version: str
) -> None:
    response = client.post(f"/v1/models/{second_version}/activate", headers=score_key)
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]


def test_revoked_key_is_refused(client: TestClient, db: Session) -> None:
    plain, row = create_key(db, scope="score")
    db.commit()
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/v1/customers", headers=headers).status_code == 200
    revoke_key(db, key_id=row.key_id)
    db.commit()
    assert client.get("/v1/customers", headers=headers).status_code == 401


def test_keys_are_stored_hashed(db: Session) -> None:
    plain, _ = create_key(db, scope="admin")
    db.commit()
    stored = db.scalars(select(ApiKey)).one()
    assert plain not in (stored.key_hash, stored.key_id, stored.name)
    assert stored.key_hash == hashlib.sha256(plain.encode()).hexdigest()


def test_key_cache_keeps_a_verified_key_only_for_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from app.keys import service

    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    cache = service.KeyCache(ttl=5.0)
    caller = service.Caller("score", "crm sync")
    cache.put("Bearer x", caller)
    assert cache.get("Bearer x") == caller
    assert cache.get("Bearer y") is None
    clock[0] += 5.1
    assert cache.get("Bearer x") is None
    assert service.KeyCache(ttl=0).get("Bearer x") is None
