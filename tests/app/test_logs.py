"""The server's log: its own lines, one access line per request, text or JSON, no secrets."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.keys.service import create_key
from app.logs import JsonLines, RequestIdFilter
from tests.app.conftest import EVENTS_SECRET
from tests.app.live_server import DEALNODE, clean_environ, fetch, serve, server_env
from tests.app.webhooks.test_events import event, signed
from training.train import TrainResult

ACCESS = "dealnode.access"


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS]


def test_one_access_record_per_request_with_route_status_and_duration(
    client: TestClient, score_key: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS)
    response = client.get("/v1/customers/nobody?cursor=abc", headers=score_key)
    assert response.status_code == 404
    (record,) = access_records(caplog)
    assert record.getMessage().startswith("GET /v1/customers/{customer_id} 404 ")
    assert (record.method, record.route, record.status) == (  # type: ignore[attr-defined]
        "GET",
        "/v1/customers/{customer_id}",
        404,
    )
    assert record.duration_ms > 0  # type: ignore[attr-defined]
    assert record.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9a-f]{32}", record.request_id)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("trace-42.a:b_C", True), ("two words", False), ("x" * 65, False), ("", False)],
)
def test_a_sane_client_request_id_is_kept_any_other_replaced(
    client: TestClient, caplog: pytest.LogCaptureFixture, sent: str, kept: bool
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS)
    answered = client.get("/healthz", headers={"X-Request-ID": sent}).headers["x-request-id"]
    assert (answered == sent) is kept
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", answered)
    (record,) = access_records(caplog)
    assert record.request_id == answered  # type: ignore[attr-defined]


def test_a_body_over_the_limit_is_logged_and_timed_too(
    client: TestClient, score_key: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS)
    huge = b'{"visits": 1, "pad": "' + b"x" * (2 << 20) + b'"}'
    response = client.post("/v1/predict", content=huge, headers=score_key)
    assert response.status_code == 413
    (record,) = access_records(caplog)
    assert record.status == 413  # type: ignore[attr-defined]
    assert "x-request-id" in response.headers
    metrics = client.get("/metrics", headers=score_key).text
    assert 'dealnode_http_request_duration_seconds_count{method="POST",route="unmatched",' in (
        metrics
    )


def test_json_lines_carry_the_extra_fields_and_the_exception() -> None:
    logger = logging.getLogger("dealnode.test")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "failed %s", ("x",), (type(exc), exc, None)
        )
    record.route = "/v1/predict"
    RequestIdFilter().filter(record)
    line = JsonLines().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "dealnode.test"
    assert entry["message"] == "failed x"
    assert entry["route"] == "/v1/predict"
    assert "ValueError: boom" in entry["exception"]
    assert "request_id" not in entry  # none outside a request
    assert entry["time"].endswith("+00:00")


def test_a_bad_log_level_stops_serve_with_one_line(tmp_path: Path) -> None:
    env = server_env("sqlite:///" + str(tmp_path / "x.db"), tmp_path, DEALNODE_LOG_LEVEL="loud")
    done = subprocess.run(
        [str(DEALNODE), "serve"],
        env={**clean_environ(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: DEALNODE_LOG_LEVEL: ")


def _access_lines(log: str, fmt: str) -> list[dict[str, object]]:
    """The access lines of a server log, as dicts, whatever the format."""
    found: list[dict[str, object]] = []
    for line in log.splitlines():
        if fmt == "json":
            entry = json.loads(line)  # every line is JSON, uvicorn's included
            if entry["logger"] == ACCESS:
                found.append(entry)
            continue
        match = re.search(
            r" dealnode\.access: (\S+) (\S+) (\d{3}) ([\d.]+)ms \[([\w.:-]+)\]$", line
        )
        if match:
            method, route, status, ms, request_id = match.groups()
            found.append(
                {
                    "method": method,
                    "route": route,
                    "status": int(status),
                    "duration_ms": float(ms),
                    "request_id": request_id,
                }
            )
    return found


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_server_prints_its_own_lines_and_access_lines_without_secrets(
    fmt: str,
    database_url: str,
    registry_dir: Path,
    trained: TrainResult,
    db: Session,
    tmp_path: Path,
) -> None:
    key, _ = create_key(db, scope="admin", name="log test")
    db.commit()
    bearer = {"Authorization": f"Bearer {key}"}
    env = server_env(
        database_url, registry_dir, DEALNODE_LOG_FORMAT=fmt, DEALNODE_LOG_LEVEL="debug"
    )
    body = json.dumps([event(1, customer="log-test")]).encode()
    webhook_headers = signed(body, msg_id="msg_logtest")
    with serve(env, tmp_path / "server.log") as server:
        predict = fetch(
            "POST",
            f"{server.url}/v1/predict",
            {**bearer, "content-type": "application/json", "X-Request-ID": "trace-1"},
            b'{"visits": 3}',
        )
        missing = fetch("GET", f"{server.url}/v1/runs/nothing?api_key={key}", bearer)
        webhook = fetch("POST", f"{server.url}/v1/webhooks/events", webhook_headers, body)
    assert (predict[0], missing[0], webhook[0]) == (200, 404, 200)
    log = server.log()

    assert f"serving model {trained.version}" in log  # the app's own INFO line
    lines = _access_lines(log, fmt)
    sent = Counter((x["method"], x["route"]) for x in lines if x["route"] != "/healthz")
    assert sent == {
        ("POST", "/v1/predict"): 1,
        ("GET", "/v1/runs/{run_id}"): 1,
        ("POST", "/v1/webhooks/events"): 1,
    }
    by_route = {(line["method"], line["route"]): line for line in lines}
    assert by_route["POST", "/v1/predict"]["status"] == 200
    assert by_route["POST", "/v1/predict"]["request_id"] == "trace-1"
    assert by_route["GET", "/v1/runs/{run_id}"]["status"] == 404
    assert by_route["POST", "/v1/webhooks/events"]["status"] == 200
    assert by_route["GET", "/v1/runs/{run_id}"]["request_id"] == missing[1]["x-request-id"]
    assert all(isinstance(x["duration_ms"], float) for x in lines)

    secret_part = key.split("_", 2)[2]  # the secret may hold "_" itself
    for secret in (key, secret_part, EVENTS_SECRET, EVENTS_SECRET.removeprefix("whsec_")):
        assert secret not in log
    assert webhook_headers["webhook-signature"].split(",", 1)[1] not in log
