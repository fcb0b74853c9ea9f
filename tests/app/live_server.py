"""A real `dealnode serve` process on 127.0.0.1, for what only separate processes show."""

from __future__ import annotations

import json
import os
import signal
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
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(18200, 18300)
"""This suite's own ports, so parallel checkouts of the project do not collide."""


@dataclass
class Server:
    """A running server: its base URL and where its output goes."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """GET `path` on a new connection (so any worker may answer): status and JSON body."""
        return self.call("GET", path, headers)

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """Send a body-less request; status and JSON body."""
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Connection": "close", **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def workers(self) -> list[int]:
        """Process ids of the server's worker processes (Linux)."""
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"spawn_main" in cmdline:  # not multiprocessing's resource tracker
                    found.append(int(child))
        return found

    def get_from(
        self, worker: int, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """GET `path` answered by `worker`: the other workers are paused meanwhile, so only
        it can accept the connection."""
        others = [pid for pid in self.workers() if pid != worker]
        for pid in others:
            os.kill(pid, signal.SIGSTOP)
        try:
            return self.get(path, headers)
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)


def free_port() -> int:
    """A port of `PORTS` nobody listens on now."""
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


@contextmanager
def serve(env: dict[str, str], log: Path, *, workers: int = 1) -> Iterator[Server]:
    """Start `dealnode serve` with `env` added, wait until it answers, and stop it after."""
    port = free_port()
    workers_option = ("--workers", str(workers))
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", *("--port", str(port)), *workers_option],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", log, process)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(server: Server, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited: {server.log.read_text()}")
        try:
            if server.get("/healthz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not answer in {timeout} s: {server.log.read_text()}")
