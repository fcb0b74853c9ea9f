"""Webhook signatures, checked on the raw bytes before anything is parsed or stored.

Standard Webhooks verification is the `standardwebhooks` package's (HMAC, constant-time
comparison, 5-minute tolerance, several signatures per header); this module only tries each of
a source's current secrets, so a secret can be rotated without dropping deliveries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.errors import Unauthorized

STANDARD_SOURCES = frozenset({"events"})
"""Sources signed with Standard Webhooks (`whsec_` secrets); HubSpot has its own scheme."""


def verify_standard(body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> None:
    """Raise Unauthorized (no detail) unless one of `secrets` signed `body` recently."""
    wanted = {
        k: headers[k]
        for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
        if k in headers
    }
    for secret in secrets:
        try:
            Webhook(secret).verify(body, wanted, json_parse=False)
        except (WebhookVerificationError, ValueError, UnicodeDecodeError):
            continue
        return
    raise Unauthorized("invalid signature")


def check_secrets(secrets: Mapping[str, Sequence[str]]) -> None:
    """Refuse to start with a secret that can never verify anything (a typo, a wrong format)."""
    for source, values in secrets.items():
        if source not in STANDARD_SOURCES:
            continue
        for n, secret in enumerate(values):
            try:
                Webhook(secret)
            except (ValueError, TypeError):
                raise ValueError(
                    f"webhook secret #{n + 1} of source {source!r} is not a whsec_ secret"
                ) from None
