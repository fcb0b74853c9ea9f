"""What a nightly-run worker process is started with: light, so a worker's start stays cheap.

Its own module so that the workers' launcher (`workers.py`) and what runs inside a worker
(`scoring.py`) both depend on it, and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.scoring.actions import Playbook


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to read and score chunks on its own."""

    database_url: str
    models_dir: Path
    playbook: Playbook
    low_confidence: float
