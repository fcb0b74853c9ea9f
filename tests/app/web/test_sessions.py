"""Signing in and out of the web app: cookie flags, hashed tokens, revocation, CSRF."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.keys.service import revoke_key
from app.tables import ApiKey, WebSession
from tests.app.web.signing_in import csrf_of, plain_key, sign_in


def test_a_page_without_a_session_sends_the_browser_to_sign_in(client: TestClient) -> None:
    answer = client.get("/app/queue?state=loyal", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/sign-in?next=%2Fapp%2Fqueue%3Fstate%3Dloyal"


def test_sign_in_sets_a_strict_http_only_cookie_whose_hash_alone_is_stored(
    client: TestClient, db: Session, score_key: dict[str, str]
) -> None:
    answer = sign_in(client, score_key, next_page="/app/queue")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/queue"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("dealnode_session=")
    )
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "path=/app" in flags
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    token = cookie.split(";")[0].split("=", 1)[1]
    stored = db.scalars(select(WebSession.token_hash)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    assert client.get("/app", follow_redirects=False).status_code == 200


def test_sign_in_over_https_makes_the_cookie_secure(
    client: TestClient, score_key: dict[str, str]
) -> None:
    client.base_url = client.base_url.copy_with(scheme="https")
    answer = sign_in(client, score_key)
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("dealnode_session=")
    )
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_a_wrong_key_gets_the_form_again_with_401(client: TestClient) -> None:
    form = client.get("/app/sign-in")
    answer = client.post(
        "/app/sign-in",
        data={"api_key": "dn_000000000000_nope", "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 401
    assert "not valid, or it was revoked" in answer.text
    assert "dealnode_session=" not in answer.headers.get("set-cookie", "")


def test_an_empty_key_is_named_as_the_problem(client: TestClient) -> None:
    form = client.get("/app/sign-in")
    answer = client.post("/app/sign-in", data={"api_key": " ", "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 422
    assert "Enter an API key" in answer.text


def test_sign_out_ends_the_session(
    client: TestClient, db: Session, score_key: dict[str, str]
) -> None:
    sign_in(client, score_key)
    funnel = client.get("/app")
    answer = client.post(
        "/app/sign-out", data={"csrf_token": csrf_of(funnel.text)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert db.scalars(select(WebSession)).all() == []
    assert client.get("/app", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_sessions(
    client: TestClient, db: Session, score_key: dict[str, str]
) -> None:
    sign_in(client, score_key)
    assert client.get("/app", follow_redirects=False).status_code == 200
    key_id = plain_key(score_key).split("_")[1]
    revoke_key(db, key_id=key_id)
    db.commit()
    assert client.get("/app", follow_redirects=False).status_code == 303


def test_an_expired_session_signs_in_again(
    client: TestClient, db: Session, score_key: dict[str, str]
) -> None:
    sign_in(client, score_key)
    db.execute(update(WebSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.commit()
    answer = client.get("/app/runs", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/sign-in?next=%2Fapp%2Fruns"


def test_a_post_without_its_sessions_csrf_token_is_refused(
    client: TestClient, db: Session, score_key: dict[str, str]
) -> None:
    sign_in(client, score_key)
    for forged in ({}, {"csrf_token": "0" * 64}):
        answer = client.post("/app/sign-out", data=forged, follow_redirects=False)
        assert answer.status_code == 403
        assert "not sent from a page of this app" in answer.text
    assert len(db.scalars(select(WebSession)).all()) == 1
    assert client.get("/app", follow_redirects=False).status_code == 200


def test_a_sign_in_post_without_the_forms_token_is_refused(
    client: TestClient, db: Session, score_key: dict[str, str]
) -> None:
    answer = client.post(
        "/app/sign-in",
        data={"api_key": plain_key(score_key), "csrf_token": "guessed"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert db.scalars(select(WebSession)).all() == []
    assert db.scalars(select(ApiKey)).one().revoked_at is None


def test_a_post_that_is_no_form_is_refused_like_a_forged_one(
    client: TestClient, score_key: dict[str, str]
) -> None:
    sign_in(client, score_key)
    answer = client.post("/app/sign-out", json={"csrf_token": "x"})
    assert answer.status_code == 403


def test_a_sign_in_that_is_not_urlencoded_is_named_in_a_4xx(client: TestClient) -> None:
    answer = client.post("/app/sign-in", json={"api_key": "x"})
    assert answer.status_code == 422
    assert answer.json()["field"] == "content-type"


def test_no_page_or_address_carries_the_key(client: TestClient, score_key: dict[str, str]) -> None:
    key = plain_key(score_key)
    answer = sign_in(client, score_key, next_page="/app/queue")
    seen = [answer.headers["location"]]
    for path in ("/app", "/app/queue", "/app/models", "/app/runs", "/app/sign-in"):
        page = client.get(path)
        assert page.status_code == 200, path
        seen += [str(page.url), page.text]
    assert all(key not in text for text in seen)
    assert all(key.split("_", 2)[2] not in text for text in seen)  # whole secret
