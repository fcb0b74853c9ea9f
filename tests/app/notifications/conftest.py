"""Fixtures of the notification tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.app.notifications.receivers import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A subscriber that fails its first two calls, so retries are exercised; closed after."""
    server = Receiver(fail_first=2)
    yield server
    server.close()
