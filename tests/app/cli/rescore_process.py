"""`dealnode rescore` in a process of its own, as cron starts it: for what only a real process
shows (its exit code and stderr, worker processes, a SIGKILL, a model that aborts LightGBM)."""

from __future__ import annotations

import os
import subprocess
import sys

from app.config import Settings
from tests.repo import ROOT


def rescore_env(settings: Settings, **extra: str) -> dict[str, str]:
    """This process's environment pointed at the test's database and model registry."""
    return {
        **os.environ,
        "DEALNODE_DATABASE_URL": settings.database_url,
        "DEALNODE_MODELS_DIR": str(settings.models_dir),
        **extra,
    }


def start_rescore(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """Start the command and return at once, its output discarded: for a test that kills it."""
    return subprocess.Popen(
        _command(args), env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def run_rescore(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the command to its end, its output captured as text; a hang fails after `timeout`."""
    return subprocess.run(
        _command(args),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _command(args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "app.cli.main", "rescore", *args]
