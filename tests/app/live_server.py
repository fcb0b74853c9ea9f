"""A real `dealnode serve` process on 127.0.0.1, for what only a running server shows: its log,
several workers, a model that cannot load, the docs page in a browser."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.db import make_engine
from app.keys.service import Scope, create_key
from tests.app.conftest import EVENTS_SECRET, HUBSPOT_SECRET

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PORTS = range(18200, 18500)
"""This suite's own ports, so parallel checkouts of the project do not collide."""
DEALNODE = Path(sys.executable).parent / "dealnode"


@dataclass
class Server:
    """A running server: its base URL, its process and the file its output goes to."""

    url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text()

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """GET `path` on a new connection (so any worker may answer): status and JSON body."""
        return self.call("GET", path, headers)

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """Send a body-less request; status and JSON body."""
        status, _, body = fetch(method, self.url + path, {"Connection": "close", **(headers or {})})
        return status, json.loads(body)

    def workers(self) -> list[int]:
        """Process ids of the server's worker processes (Linux)."""
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"spawn_main" in cmdline:  # not multiprocessing's resource tracker
                    found.append(int(child))
        return found

    @contextmanager
    def answered_by(self, worker: int) -> Iterator[None]:
        """Within the block, only `worker` accepts connections: the others are paused."""
        others = [pid for pid in self.workers() if pid != worker]
        for pid in others:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in others:
                # uvicorn's supervisor replaces a worker that misses its health check, which
                # a paused one does on a loaded machine: nothing is left to resume then.
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def get_from(
        self, worker: int, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """GET `path` answered by `worker`."""
        with self.answered_by(worker):
            return self.get(path, headers)


def server_env(database_url: str, models_dir: Path, **extra: str) -> dict[str, str]:
    """The settings of a test server: this test's database, registry and secrets only."""
    return {
        "DEALNODE_DATABASE_URL": database_url,
        "DEALNODE_MODELS_DIR": str(models_dir),
        "DEALNODE_WEBHOOK_SECRETS": json.dumps(
            {"events": [EVENTS_SECRET], "hubspot": [HUBSPOT_SECRET]}
        ),
        "DEALNODE_KEY_CACHE_SECONDS": "0",
        # Tests pause workers with SIGSTOP; on a loaded machine that can outlast uvicorn's
        # 5 s health check, and a replaced worker loses what the test counts on it.
        "DEALNODE_WORKER_HEALTHCHECK_SECONDS": "60",
        **extra,
    }


def clean_environ() -> dict[str, str]:
    """This process's environment without settings of its own, which a server would read."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEALNODE_", "PROMETHEUS_")) and k != "DATABASE_URL"
    }


def free_port() -> int:
    """A port of `PORTS` nobody listens on now, tried in random order: checkouts testing side
    by side would otherwise pick the same first free port, and one would talk to the other's
    server."""
    for port in random.sample(PORTS, len(PORTS)):
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


@contextmanager
def serve(env: dict[str, str], log: Path, *, workers: int = 1) -> Iterator[Server]:
    """Start `dealnode serve` with the settings `env`, wait until it answers, stop it after.

    Host, port and workers go in through the environment, as a container would set them.
    """
    port = free_port()
    where = {"DEALNODE_HOST": HOST, "DEALNODE_PORT": str(port), "DEALNODE_WORKERS": str(workers)}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", "serve"],
            env={**clean_environ(), **env, **where},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://{HOST}:{port}", log, process)
    try:
        _wait_until_up(server, workers)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def fetch(
    method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection: status, headers (lower-case names) and body."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            found = {k.lower(): v for k, v in response.headers.items()}
            return response.status, found, response.read()
    except urllib.error.HTTPError as exc:
        found = {k.lower(): v for k, v in exc.headers.items()}
        return exc.code, found, exc.read()


def _wait_until_up(server: Server, workers: int, timeout: float = 120) -> None:
    """Wait for an answer and, with several workers, for every worker process to exist (the
    first can answer while the others still start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited: {server.log()}")
        try:
            started = workers == 1 or len(server.workers()) == workers
            if started and server.get("/healthz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not answer in {timeout} s: {server.log()}")


def keys_in(database_url: str, **names: Scope) -> dict[str, str]:
    """Create an API key per name with its scope in a server's database; the plain keys."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            made = {
                name: create_key(session, scope=scope, name=name)[0]
                for name, scope in names.items()
            }
            session.commit()
    finally:
        engine.dispose()
    return made
