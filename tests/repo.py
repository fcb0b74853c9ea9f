"""The checkout under test: its root and the files git tracks."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tracked_files(*paths: str) -> list[str]:
    """Files git tracks under `paths` (the ones a build copies), relative to the root."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *paths],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=30,
    )
    return [name for name in out.stdout.decode().split("\0") if name]
