"""The web app's pages show what the API gives: funnel counts, queue filters, pages, CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.tables import Notification, NotificationDelivery, ScoringRun
from tests.app.seeding import seed
from tests.app.web.chart_images import charts_in
from tests.app.web.signing_in import csrf_of, sign_in
from training.features import STATES
from training.simulation import Simulation

CUSTOMERS = 120
ROW_LINK = re.compile(r'href="/app/customers/([^"]+)"')


def _api_ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    """Every customer id of a queue through the API, paging with its cursors."""
    ids: list[str] = []
    cursor = None
    while True:
        query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/v1/customers", params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        ids += [item["customer_id"] for item in answer.json()["items"]]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return ids


def _page_ids(html: str) -> list[str]:
    return [unquote(found) for found in ROW_LINK.findall(html)]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A threshold that flags some of a small simulated sample at risk (few pass 0.5)."""
    return settings.model_copy(update={"at_risk_threshold": 0.2})


@pytest.fixture
def seeded(client: TestClient, score_key: dict[str, str], simulation: Simulation) -> list[Any]:
    """Customers scored and stored through the API, and the client signed in."""
    results = seed(client, score_key, simulation, CUSTOMERS, ids="w-{:04d}")
    sign_in(client, score_key)
    return results


def test_the_funnel_shows_the_apis_counts_per_state_and_at_risk(
    client: TestClient, score_key: dict[str, str], seeded: list[Any]
) -> None:
    html = client.get("/app").text
    shown = {state: int(n) for state, n in re.findall(r'data-state="(\w+)">(\d+)<', html)}
    assert list(shown) == list(STATES)
    assert shown == {state: len(_api_ids(client, score_key, state=state)) for state in STATES}
    assert sum(shown.values()) == len(seeded)
    at_risk = re.search(r'id="at-risk-count"[^>]*>(\d+)<', html)
    assert at_risk is not None
    assert int(at_risk.group(1)) == len(_api_ids(client, score_key, at_risk=True))


def test_the_funnel_counts_the_last_runs_moves_forward_and_back(
    client: TestClient, db: Session, seeded: list[Any]
) -> None:
    now = datetime.now(UTC)
    db.add(
        ScoringRun(
            id="run-web-1",
            model_version="m",
            as_of=now,
            started_at=now,
            finished_at=now,
            status="succeeded",
            rows_scored=len(seeded),
            state_changes=7,
            transitions={
                "intent": {"deciding": 4, "interested": 2, "intent": 9, "loyal": 0},
                "loyal": {"deciding": 1},
            },
        )
    )
    db.commit()
    html = client.get("/app").text
    assert re.search(r'id="moved-forward">4<', html)
    assert re.search(r'id="fell-back">3<', html)
    moves = html.split("Moves between states")[1].split("</table>")[0]
    assert moves.count("<tr>") == 1 + 3  # the header, and no row for a pair that moved no one


QUEUE_FILTERS: list[dict[str, Any]] = [
    {"state": "deciding"},
    {"open_objection": True},
    {"open_objection": False, "min_confidence": 0.6},
    {"at_risk": True},
    {"silent_after_quote": True},
    {"silent_after_quote": False, "sort": "least_confident"},
    {"action": "discovery_call"},
]


@pytest.mark.parametrize("filters", QUEUE_FILTERS, ids=lambda f: "&".join(map(str, f)))
def test_the_queue_page_lists_what_the_api_lists_with_the_same_filters(
    client: TestClient, score_key: dict[str, str], seeded: list[Any], filters: dict[str, Any]
) -> None:
    params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in filters.items()}
    answer = client.get("/app/queue", params=params)
    assert answer.status_code == 200
    expected = _api_ids(client, score_key, **params)[:50]
    assert _page_ids(answer.text) == expected
    assert len(expected) > 0, "a filter that keeps no one tests nothing"
    assert len(_api_ids(client, score_key, **params)) < len(seeded)


def test_blank_filters_mean_any(client: TestClient, seeded: list[Any]) -> None:
    blank = {"state": "", "action": "", "min_confidence": "", "at_risk": "", "sort": ""}
    assert _page_ids(client.get("/app/queue", params=blank).text) == _page_ids(
        client.get("/app/queue").text
    )
    assert len(seeded) > 50


def test_a_bad_filter_is_named_in_a_4xx(client: TestClient, seeded: list[Any]) -> None:
    answer = client.get("/app/queue", params={"min_confidence": "2"})
    assert answer.status_code == 422
    assert "min_confidence" in answer.text
    assert len(seeded) == CUSTOMERS


def test_the_queue_pages_cover_every_customer_once_in_the_apis_order(
    client: TestClient, score_key: dict[str, str], seeded: list[Any]
) -> None:
    seen: list[str] = []
    address: str | None = "/app/queue?state=&sort=most_confident"
    while address is not None:
        html = client.get(address.replace("&amp;", "&")).text
        seen += _page_ids(html)
        following = re.search(r'id="next-page" href="([^"]+)"', html)
        address = following.group(1) if following else None
    assert len(seen) == len(set(seen)) == len(seeded)
    assert seen == _api_ids(client, score_key)


def test_the_csv_export_has_every_row_of_the_filtered_queue(
    client: TestClient, score_key: dict[str, str], seeded: list[Any]
) -> None:
    answer = client.get("/app/queue.csv", params={"sort": "least_confident"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["customer_id"] for r in rows] == _api_ids(client, score_key, sort="least_confident")
    by_id = {r["customer_id"]: r for r in seeded}
    first = rows[0]
    assert first["state"] == by_id[first["customer_id"]]["state"]
    assert first["top_reason"] == by_id[first["customer_id"]]["reasons_for"][0]["text"]
    assert first["urgency"] == by_id[first["customer_id"]]["next_action"]["urgency"]


def test_the_customer_page_shows_the_score_action_reasons_and_history(
    client: TestClient, seeded: list[Any]
) -> None:
    result = seeded[3]
    answer = client.get(f"/app/customers/{result['customer_id']}")
    assert answer.status_code == 200
    html = answer.text
    assert result["next_action"]["title"] in html
    assert result["next_action"]["due_date"] in html
    for reason in result["reasons_for"] + result["reasons_against"]:
        assert reason["text"].replace("'", "&#39;") in html
    assert f"{result['probabilities'][result['state']]:.0%}" in html
    (history,) = charts_in(html)
    assert history.markers(f"changes-{result['state']}") >= 1
    assert history.alt.endswith(f" {result['state']}.")  # the last change is the state now
    missing = client.get("/app/customers/no-such-one")
    assert missing.status_code == 404
    assert "no customer &#39;no-such-one&#39;" in missing.text


def test_a_viewer_is_refused_activation_and_an_admin_activates_after_confirming(
    client: TestClient, score_key: dict[str, str], admin_key: dict[str, str], second_version: str
) -> None:
    sign_in(client, score_key)
    models = client.get("/app/models")
    assert second_version in models.text
    assert 'id="per-state"' in models.text
    assert 'id="confusion"' in models.text
    assert "Activate…" not in models.text
    assert client.get(f"/app/models/{second_version}/activate").status_code == 403
    refused = client.post(
        f"/app/models/{second_version}/activate", data={"csrf_token": csrf_of(models.text)}
    )
    assert refused.status_code == 403
    assert client.get("/v1/models/current", headers=score_key).json()["version"] != second_version

    sign_in(client, admin_key)
    confirm = client.get(f"/app/models/{second_version}/activate")
    assert confirm.status_code == 200
    forged = client.post(f"/app/models/{second_version}/activate", data={"csrf_token": "x"})
    assert forged.status_code == 403
    done = client.post(
        f"/app/models/{second_version}/activate",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get("/v1/models/current", headers=score_key).json()["version"] == second_version


def test_an_admin_retries_a_dead_delivery_and_a_viewer_cannot(
    client: TestClient, db: Session, score_key: dict[str, str], admin_key: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    db.add(Notification(notification_id="n-dead", customer_id="c", payload={}, created_at=now))
    db.flush()
    db.add(
        NotificationDelivery(
            notification_id="n-dead",
            url="https://crm.example/hook",
            attempts=8,
            next_attempt_at=now,
            dead_at=now,
            last_error="HTTP 500",
        )
    )
    db.commit()
    sign_in(client, score_key)
    runs = client.get("/app/runs")
    assert "n-dead" not in runs.text
    refused = client.post("/app/deliveries/n-dead/retry", data={"csrf_token": csrf_of(runs.text)})
    assert refused.status_code == 403

    sign_in(client, admin_key)
    runs = client.get("/app/runs")
    assert "n-dead" in runs.text
    done = client.post(
        "/app/deliveries/n-dead/retry",
        data={"csrf_token": csrf_of(runs.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    db.expire_all()
    delivery = db.query(NotificationDelivery).one()
    assert delivery.dead_at is None
    assert delivery.attempts == 0


def test_an_empty_database_says_what_to_run(client: TestClient, score_key: dict[str, str]) -> None:
    sign_in(client, score_key)
    html = client.get("/app").text
    assert "No customers yet" in html
    assert ".venv/bin/dealnode demo" in html
    assert "dealnode import events" in html
    assert "dealnode rescore" in html
    assert "No nightly run has finished yet" in html


def test_a_customer_id_with_url_characters_links_to_its_page(
    client: TestClient, score_key: dict[str, str], seeded: list[Any]
) -> None:
    # No "%": Starlette's TestClient decodes a path twice, which a real server does not.
    odd = "acme?q=1#top&x+y"
    body = {"customer_id": odd, "visits": 4, "quotes": 1, "quotes_90d": 1}
    assert client.post("/v1/predict", json=body, headers=score_key).status_code == 200
    listed = client.get("/app/queue", params={"min_confidence": 0}).text
    links = [link for link in ROW_LINK.findall(listed) if unquote(link) == odd]
    assert len(links) == 1
    answer = client.get(f"/app/customers/{links[0]}")
    assert answer.status_code == 200
    assert "acme?q=1#top&amp;x+y" in answer.text
    assert len(seeded) == CUSTOMERS
