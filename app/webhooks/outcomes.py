"""Count what happens to each inbound webhook delivery, for the Prometheus metrics."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec

from fastapi import Request

from app.deps import get_metrics
from app.errors import AppError
from app.webhooks.schemas import DeliveryRead

P = ParamSpec("P")
Handler = Callable[P, Awaitable[DeliveryRead]]

_REASONS = {"unauthorized": "signature"}
"""Rejection reasons by error code; any other code is its own reason (e.g. invalid_input)."""


def counted(source: str) -> Callable[[Handler[P]], Handler[P]]:
    """Count the route's deliveries as accepted, duplicate, or rejected with a reason.

    The route must take the request as a parameter named `request`: the metrics are found
    through it rather than as one more dependency of every delivery.
    """

    def wrap(handler: Handler[P]) -> Handler[P]:
        @functools.wraps(handler)
        async def counting(*args: P.args, **kwargs: P.kwargs) -> DeliveryRead:
            request = kwargs["request"]  # FastAPI passes every parameter by name
            assert isinstance(request, Request)
            metrics = await get_metrics(request)
            try:
                read = await handler(*args, **kwargs)
            except AppError as exc:
                metrics.webhook_deliveries.labels(source, "rejected").inc()
                metrics.webhook_rejections.labels(source, _REASONS.get(exc.code, exc.code)).inc()
                raise
            outcome = "accepted" if read.accepted else "duplicate"
            metrics.webhook_deliveries.labels(source, outcome).inc()
            for name in ("accepted", "duplicates", "ignored"):
                if count := getattr(read, name):
                    events = metrics.webhook_events.labels(source, name.removesuffix("s"))
                    events.inc(count)
            return read

        return counting

    return wrap
