"""Webhook signatures, checked on the raw bytes before anything is parsed or stored.

Standard Webhooks verification is the `standardwebhooks` package's (HMAC, constant-time
comparison, 5-minute tolerance, several signatures per header); this module only tries each of
a source's current secrets, so a secret can be rotated without dropping deliveries.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

from app.errors import Unauthorized

STANDARD_SOURCES = frozenset({"events"})
"""Sources signed with Standard Webhooks (`whsec_` secrets); HubSpot has its own scheme."""
SECRET_PREFIX = "whsec_"


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


def check_secrets(secrets: Mapping[str, Sequence[object]]) -> None:
    """Refuse to start with a secret that can never verify anything (a typo, a wrong format).

    An empty key would make every signature forgeable, so it is refused for every source.
    """
    for source, values in secrets.items():
        for n, secret in enumerate(values):
            where = f"DEALNODE_WEBHOOK_SECRETS: secret #{n + 1} of source {source!r}"
            if not isinstance(secret, str) or not secret:
                raise ValueError(f"{where} is empty or not a string")
            if source in STANDARD_SOURCES and not is_standard_secret(secret):
                raise ValueError(f"{where} is not a whsec_ secret (base64 after 'whsec_')")


def check_outbound_secret(secret: object) -> None:
    """Refuse to start a worker whose signatures no subscriber could check."""
    if not isinstance(secret, str) or not secret:
        raise ValueError("DEALNODE_OUTBOUND_SECRET is not set: notifications cannot be signed")
    if not is_standard_secret(secret):
        raise ValueError("DEALNODE_OUTBOUND_SECRET is not a whsec_ secret (base64 after 'whsec_')")


def is_standard_secret(secret: str) -> bool:
    """Whether `secret` is non-empty strict base64 (after `whsec_`), as the library reads it.

    The library decodes leniently (stray characters dropped), so a typo would still give it a
    key, just another one than the sender's.
    """
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        return False
    if not key:
        return False
    try:
        Webhook(secret)
    except (ValueError, TypeError, RuntimeError, EmptyWebhookSecretError):
        return False
    return True
