"""Signing secrets: the library version we rely on, and start-up refusing unusable secrets."""

from __future__ import annotations

import base64
import inspect
import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from standardwebhooks import Webhook

from tests.repo import ROOT

SECRET = "whsec_" + base64.b64encode(b"a-secret-that-is-fine-for-tests!").decode()


def test_installed_standardwebhooks_verify_takes_json_parse() -> None:
    parameter = inspect.signature(Webhook.verify).parameters.get("json_parse")
    assert parameter is not None, "verify_standard calls verify(..., json_parse=False)"
    assert parameter.kind in {parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD}
    now = datetime.now(UTC)
    body = '{"event_id": "e1"}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SECRET).sign("msg_1", now, body),
    }
    assert Webhook(SECRET).verify(body.encode(), headers, json_parse=False) is None


def test_the_pinned_range_admits_no_release_without_json_parse() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pin,) = [Requirement(d) for d in project["dependencies"] if d.startswith("standardwebhooks")]
    assert not pin.specifier.contains("1.0.0")
    assert not pin.specifier.contains("1.0.1")  # verify(data, headers) only: every call a 500
    assert pin.specifier.contains(version("standardwebhooks"))


MALFORMED = "whsec_bm90LWJhc2U2NA!!%%"
"""Not base64 after the prefix; the library would silently drop the stray characters."""


@pytest.mark.parametrize(
    ("command", "env", "setting"),
    [
        (["serve", "--port", "18301"], {"WEBHOOK_SECRETS": '{"events": ["whsec_"]}'}, "WEBHOOK"),
        (["serve", "--port", "18301"], {"WEBHOOK_SECRETS": '{"events": [""]}'}, "WEBHOOK"),
        (
            ["serve", "--port", "18301"],
            {"WEBHOOK_SECRETS": f'{{"events": ["{MALFORMED}"]}}'},
            "WEBHOOK",
        ),
        (["serve", "--port", "18301"], {"WEBHOOK_SECRETS": '{"hubspot": [""]}'}, "WEBHOOK"),
        (["serve", "--port", "18301"], {"WEBHOOK_SECRETS": '{"events": [123]}'}, "WEBHOOK"),
        (["serve", "--port", "18301"], {"WEBHOOK_SECRETS": "whsec_abc"}, "WEBHOOK"),
        (["serve", "--port", "18301"], {"OUTBOUND_SECRET": MALFORMED}, "OUTBOUND"),
        (["deliver", "--once"], {"OUTBOUND_SECRET": MALFORMED}, "OUTBOUND"),
        (["deliver", "--once"], {"OUTBOUND_SECRET": ""}, "OUTBOUND"),
        (["deliver", "--once"], {"OUTBOUND_SECRET": "whsec_"}, "OUTBOUND"),
        (["deliver", "--once"], {"WEBHOOK_SECRETS": '{"events": ["whsec_"]}'}, "WEBHOOK"),
    ],
)
def test_start_up_refuses_an_unusable_secret_with_one_line(
    command: list[str], env: dict[str, str], setting: str, tmp_path: Path
) -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DEALNODE_")},
        "DEALNODE_DATABASE_URL": f"sqlite:///{tmp_path / 'dealnode.db'}",
        "DEALNODE_MODELS_DIR": str(tmp_path / "models"),
        "DEALNODE_SUBSCRIBERS": '["http://127.0.0.1:18302/hook"]',
        "DEALNODE_OUTBOUND_SECRET": SECRET,
        **{f"DEALNODE_{k}": v for k, v in env.items()},
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.cli.main", *command],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: DEALNODE_{setting}")
    assert "bm90LWJhc2U2NA" not in done.stderr  # the secret itself is never printed
    assert "whsec_abc" not in done.stderr
