"""A small keep-alive HTTP/1.1 load generator on raw asyncio streams.

A general-purpose client (httpx, requests) costs more CPU per request than the endpoint under
test, and on a 2-core machine it shares those cores with the server; pre-built request bytes and
a minimal response parser keep the client's share small and the same for every target.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured."""

    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return float(np.percentile(np.asarray(self.latencies), q) * 1000)


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """Serialise one POST request once; every send reuses the bytes."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    await reader.readexactly(length)
    return status


async def _worker(
    host: str,
    port: int,
    request: bytes,
    deadline: float,
    limit: int,
    counter: list[int],
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and counter[0] < limit:
            counter[0] += 1
            start = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _run(
    host: str, port: int, request: bytes, concurrency: int, seconds: float, limit: int
) -> LoadResult:
    counter = [0]
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(
            _worker(host, port, request, deadline, limit, counter, latencies, errors)
            for _ in range(concurrency)
        )
    )
    return LoadResult(len(latencies), len(errors), time.perf_counter() - start, latencies)


def run_load(
    host: str,
    port: int,
    request: bytes,
    *,
    concurrency: int,
    seconds: float,
    max_requests: int = 200_000,
) -> LoadResult:
    """Send `request` from `concurrency` connections until time or count runs out."""
    return asyncio.run(_run(host, port, request, concurrency, seconds, max_requests))


async def _run_each(host: str, port: int, requests: list[bytes], concurrency: int) -> LoadResult:
    queue = list(reversed(requests))
    latencies: list[float] = []
    errors: list[int] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue:
                request = queue.pop()
                start = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    errors.append(status)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(len(latencies), len(errors), time.perf_counter() - start, latencies)


def run_each(host: str, port: int, requests: list[bytes], *, concurrency: int) -> LoadResult:
    """Send every request once (distinct bodies, e.g. signed deliveries) and time it."""
    return asyncio.run(_run_each(host, port, requests, concurrency))
