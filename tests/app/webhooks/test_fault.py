"""Fault test: the server is killed (SIGKILL) while a CRM streams signed events.

After a restart and the sender's retries of everything not acknowledged, every event is stored
exactly once and every customer's stored inputs agree with its stored events. Bounded: 300
events, a few seconds, loopback only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from app.config import Settings
from app.tables import Customer, InteractionEvent
from tests.app.conftest import EVENTS_SECRET
from tests.repo import ROOT
from training.features import COUNT_INPUTS, raw_inputs_from_events

pytestmark = pytest.mark.slow
TYPES = ["visit", "reply", "quote", "objection", "meeting", "purchase"]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DEALNODE_DATABASE_URL": settings.database_url,
        "DEALNODE_MODELS_DIR": str(settings.models_dir),
        "DEALNODE_WEBHOOK_SECRETS": json.dumps(settings.webhook_secrets),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def _send(port: int, events: list[dict[str, str]], msg_id: str) -> bool:
    body = json.dumps(events)
    now = datetime.now(UTC)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/webhooks/events",
        data=body.encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(EVENTS_SECRET).sign(msg_id, now, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def test_sigkill_mid_stream_loses_and_duplicates_nothing(settings: Settings, db: Session) -> None:
    start = datetime.now(UTC) - timedelta(days=20)
    events = [
        {
            "event_id": f"f-{n}",
            "customer_id": f"cust-{n % 25}",
            "type": TYPES[n % 6],
            "occurred_at": (start + timedelta(minutes=37 * n)).isoformat(),
        }
        for n in range(300)
    ]
    deliveries = [events[i : i + 10] for i in range(0, len(events), 10)]
    port = _port()
    server = _start(settings, port)
    acknowledged: set[int] = set()

    def stream() -> None:
        for n, delivery in enumerate(deliveries):
            if _send(port, delivery, f"msg_{n}"):
                acknowledged.add(n)

    sender = threading.Thread(target=stream)
    try:
        sender.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill()  # SIGKILL while deliveries are in flight: no shutdown, no cleanup
        server.wait(timeout=10)
        sender.join(timeout=60)
        assert 0 < len(acknowledged) < len(deliveries)
        server = _start(settings, port)
        for attempt in range(3):  # the sender retries what was not acknowledged
            for n, delivery in enumerate(deliveries):
                if n not in acknowledged and _send(port, delivery, f"msg_{n}_retry{attempt}"):
                    acknowledged.add(n)
        assert len(acknowledged) == len(deliveries)
    finally:
        server.kill()
        server.wait(timeout=10)

    stored = db.scalars(select(InteractionEvent.event_id)).all()
    assert sorted(stored) == sorted(e["event_id"] for e in events)
    assert db.scalar(select(func.count(func.distinct(InteractionEvent.event_id)))) == len(events)
    log = pd.DataFrame(events)
    for customer in db.scalars(select(Customer)):
        own = log[log["customer_id"] == customer.customer_id]
        expected = raw_inputs_from_events(own, customer.inputs_as_of).iloc[0]
        assert [getattr(customer, c) for c in COUNT_INPUTS] == [
            int(expected[c]) for c in COUNT_INPUTS
        ]
        assert customer.last_contact_at == expected["last_contact_at"].to_pydatetime()
