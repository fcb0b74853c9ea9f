"""A real `dealnode serve` in a subprocess, for what only a running server shows (its log,
several workers, the docs page in a browser)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.app.conftest import EVENTS_SECRET, HUBSPOT_SECRET

HOST = "127.0.0.1"
PORTS = range(18400, 18500)
"""This project's test servers stay in this range."""
DEALNODE = Path(sys.executable).parent / "dealnode"


@dataclass
class Server:
    """A running server and the file its stdout and stderr go to."""

    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


def free_port() -> int:
    """A port of the range nothing listens on now."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


def server_env(database_url: str, models_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test server: this test's database, registry and secrets only."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEALNODE_", "PROMETHEUS_")) and k != "DATABASE_URL"
    }
    return {
        **inherited,
        "DEALNODE_DATABASE_URL": database_url,
        "DEALNODE_MODELS_DIR": str(models_dir),
        "DEALNODE_WEBHOOK_SECRETS": json.dumps(
            {"events": [EVENTS_SECRET], "hubspot": [HUBSPOT_SECRET]}
        ),
        "DEALNODE_KEY_CACHE_SECONDS": "0",
        **extra,
    }


@contextmanager
def running_server(env: dict[str, str], log_dir: Path, workers: int = 1) -> Iterator[Server]:
    """Start `dealnode serve` (host, port and workers from the environment) until the block ends."""
    port = free_port()
    log_path = log_dir / "server.log"
    env = {
        **env,
        "DEALNODE_HOST": HOST,
        "DEALNODE_PORT": str(port),
        "DEALNODE_WORKERS": str(workers),
    }
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [str(DEALNODE), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start:\n{log_path.read_text()}") from None
                time.sleep(0.2)
        yield Server(url, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def call(
    method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection: status, headers (lower-case names) and body."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            found = {k.lower(): v for k, v in response.headers.items()}
            return response.status, found, response.read()
    except urllib.error.HTTPError as exc:
        found = {k.lower(): v for k, v in exc.headers.items()}
        return exc.code, found, exc.read()
