"""Subscriber endpoints on 127.0.0.1, each behaving one way a CRM's endpoint can: failing at
first, slow or hanging, trickling its answer, redirecting."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

OUTBOUND = "whsec_" + base64.b64encode(b"outbound-test-secret-dealnode-01").decode()
"""The secret the tests' delivery workers sign with and these endpoints verify."""


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that reads the body and keeps access lines out of the test output."""

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers["content-length"]))

    def log_message(self, *_: Any) -> None:
        pass


class Loopback:
    """An HTTP server on a free 127.0.0.1 port, answering with `handler` in a daemon thread
    until `close`, so a test never waits on a port or leaves a server behind."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Receiver(Loopback):
    """A CRM endpoint on 127.0.0.1 that checks signatures and fails its first calls on purpose."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.calls = 0
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.body()
                receiver.calls += 1
                Webhook(OUTBOUND).verify(body, dict(self.headers.items()))  # raises if forged
                status = 500 if receiver.calls <= receiver.fail_first else 204
                if status == 204:
                    receiver.accepted.append((self.headers["webhook-id"], json.loads(body)))
                self.send_response(status)
                self.end_headers()

        super().__init__(Handler)


class Recorder(Loopback):
    """A receiver on 127.0.0.1 that records every request and how many sends of one
    notification it was serving at once; with `hold`, each request hangs until it is set."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.lock = threading.Lock()
        self.received: list[str] = []
        self.serving: Counter[str] = Counter()
        self.most_at_once = 0
        recorder = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.body()
                Webhook(OUTBOUND).verify(body, dict(self.headers.items()))
                msg_id = self.headers["webhook-id"]
                with recorder.lock:
                    recorder.received.append(msg_id)
                    recorder.serving[msg_id] += 1
                    recorder.most_at_once = max(recorder.most_at_once, recorder.serving[msg_id])
                try:
                    if hold is not None:
                        hold.wait(timeout=60)
                    else:
                        time.sleep(0.02)  # a window for a second worker's send to overlap
                finally:
                    with recorder.lock:
                        recorder.serving[msg_id] -= 1
                self.send_response(204)
                self.end_headers()

        super().__init__(Handler)

    def in_progress(self) -> int:
        with self.lock:
            return sum(self.serving.values())


class Trickler(Loopback):
    """A receiver on 127.0.0.1 that answers one header byte at a time, forever, or redirects."""

    def __init__(self, *, redirect: bool = False) -> None:
        self.stop = threading.Event()
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.body()
                if redirect:
                    self.send_response(307)
                    self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                while not outer.stop.wait(0.05):  # each byte resets a per-read timeout
                    try:
                        self.wfile.write(b"X")
                        self.wfile.flush()
                    except OSError:
                        return

        super().__init__(Handler)

    def close(self) -> None:
        self.stop.set()
        super().close()
