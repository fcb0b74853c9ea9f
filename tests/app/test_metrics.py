"""Prometheus metrics: names, runtime collectors, webhook outcomes, database facts, workers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from app.keys.service import create_key
from app.tables import Notification, NotificationDelivery, ScoringRun
from tests.app.live_server import fetch, serve, server_env
from tests.app.waiting import eventually
from tests.app.webhooks.test_events import URL, event, post
from training.train import TrainResult


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the one sample `name` with these labels (others ignored), or None."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return None


def scrape(client: TestClient, key: dict[str, str]) -> str:
    response = client.get("/metrics", headers=key)
    assert response.status_code == 200
    return response.text


def test_conventional_names_and_the_process_and_gc_collectors(
    client: TestClient, score_key: dict[str, str]
) -> None:
    client.get("/healthz")
    text = scrape(client, score_key)
    assert "# TYPE dealnode_http_request_duration_seconds histogram" in text
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert sample(text, "dealnode_http_request_duration_seconds_count", **labels) == 1
    assert "dealnode_request_seconds" not in text
    assert sample(text, "process_resident_memory_bytes") is not None
    assert sample(text, "python_gc_collections_total", generation="0") is not None
    assert sample(text, "python_info") == 1


def test_webhook_deliveries_are_counted_by_outcome_and_reason(
    client: TestClient, score_key: dict[str, str]
) -> None:
    events = [event(1, customer="m-1"), event(2, customer="m-1")]
    assert post(client, events).status_code == 200
    assert post(client, events).status_code == 200  # the same again: duplicates
    unsigned = client.post(URL, content=json.dumps(events).encode())
    assert unsigned.status_code == 401
    assert post(client, [{**event(3), "type": "telepathy"}]).status_code == 422
    text = scrape(client, score_key)

    def deliveries(outcome: str) -> float | None:
        return sample(text, "dealnode_webhook_deliveries_total", source="events", outcome=outcome)

    assert (deliveries("accepted"), deliveries("duplicate"), deliveries("rejected")) == (1, 1, 2)
    rejections = "dealnode_webhook_rejections_total"
    assert sample(text, rejections, source="events", reason="signature") == 1
    assert sample(text, rejections, source="events", reason="invalid_input") == 1
    events_total = "dealnode_webhook_events_total"
    assert sample(text, events_total, source="events", outcome="accepted") == 2
    assert sample(text, events_total, source="events", outcome="duplicate") == 2


def test_outbox_backlog_and_the_last_good_run_come_from_the_database(
    client: TestClient, db: Session, score_key: dict[str, str]
) -> None:
    before = scrape(client, score_key)
    assert sample(before, "dealnode_outbox_pending_deliveries") == 0
    assert sample(before, "dealnode_outbox_dead_deliveries") == 0
    assert sample(before, "dealnode_rescore_last_success_timestamp_seconds") is None

    now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    for n in range(4):
        db.add(
            Notification(notification_id=f"msg_{n}", customer_id="c", payload={}, created_at=now)
        )
    db.flush()
    outcomes = [(None, None), (None, None), (None, now), (now, None)]  # pending x2, dead, done
    for n, (delivered, dead) in enumerate(outcomes):
        db.add(
            NotificationDelivery(
                notification_id=f"msg_{n}",
                url="http://127.0.0.1:9/hook",
                attempts=1,
                next_attempt_at=now,
                delivered_at=delivered,
                dead_at=dead,
            )
        )
    runs = [  # (id, status, started, minutes taken)
        ("old", "succeeded", now - timedelta(days=1), 30),
        ("good", "succeeded", now, 12),
        ("broken", "failed", now + timedelta(hours=1), 5),
        ("trial", "dry-run", now + timedelta(hours=2), 5),
        ("running", "running", now + timedelta(hours=3), None),
    ]
    for run_id, status, started, minutes in runs:
        db.add(
            ScoringRun(
                id=run_id,
                model_version="v",
                as_of=started,
                started_at=started,
                finished_at=None if minutes is None else started + timedelta(minutes=minutes),
                status=status,
                dry_run=status == "dry-run",
            )
        )
    db.commit()

    text = scrape(client, score_key)
    assert sample(text, "dealnode_outbox_pending_deliveries") == 2
    assert sample(text, "dealnode_outbox_dead_deliveries") == 1
    finished = (now + timedelta(minutes=12)).timestamp()
    assert sample(text, "dealnode_rescore_last_success_timestamp_seconds") == finished
    assert sample(text, "dealnode_rescore_last_success_duration_seconds") == 12 * 60


@pytest.mark.slow
def test_several_workers_report_their_counts_together(
    database_url: str, registry_dir: Path, trained: TrainResult, db: Session, tmp_path: Path
) -> None:
    key, _ = create_key(db, scope="score", name="workers")
    db.commit()
    bearer = {"Authorization": f"Bearer {key}"}
    requests = 24
    with serve(
        server_env(database_url, registry_dir), tmp_path / "server.log", workers=2
    ) as server:
        workers = server.workers()
        assert len(workers) == 2
        for worker in workers:  # half the requests to each: only a sum of both makes 24
            with server.answered_by(worker):
                for _ in range(requests // 2):
                    assert fetch("GET", f"{server.url}/v1/models", bearer)[0] == 200
        labels = {"method": "GET", "route": "/v1/models", "status": "200"}

        def scrape() -> str:
            return fetch("GET", f"{server.url}/metrics", bearer)[2].decode()

        # A request is counted just after its answer is sent, so the last one may land a moment
        # after the client has its answer: wait for it (bounded), then scrape whoever answers.
        counted = "dealnode_http_request_duration_seconds_count"
        eventually(
            lambda: (sample(scrape(), counted, **labels) or 0) >= requests,
            "every request counted",
            seconds=10,
            every=0.1,
        )
        scrapes = [scrape() for _ in range(6)]
    for text in scrapes:
        count = sample(text, "dealnode_http_request_duration_seconds_count", **labels)
        assert count == requests
        assert sample(text, "dealnode_outbox_pending_deliveries") == 0
        assert sample(text, "dealnode_model_info", version=trained.version) == 1
        # Whichever worker answers shows the served model's monitoring report, never another's.
        assert sample(text, "dealnode_monitoring_report_timestamp_seconds") is not None
        assert sample(text, "dealnode_live_labelled") == 0
    assert "Started server process" in server.log()
