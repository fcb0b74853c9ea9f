"""What a nightly-run worker process is started with: light, so a worker's start stays cheap.

Its own module so that the workers' launcher (`workers.py`) and what runs inside a worker
(`chunk_scoring.py`) both depend on it, and not on each other.
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
    at_risk_threshold: float = 0.5

    @classmethod
    def scoring_as(
        cls,
        database_url: str,
        models_dir: Path,
        playbook: Path | Playbook,
        low_confidence: float,
        at_risk_threshold: float = 0.5,
    ) -> WorkerSetup:
        """What workers need to read `database_url` and score with these models and advice.

        `playbook` is a file when `dealnode rescore` starts its workers before it loads
        anything, or the playbook of a run already under way.
        """
        from app.scoring.actions import load_playbook  # pandas: not at a worker's import

        if isinstance(playbook, Path):
            playbook = load_playbook(playbook)
        return cls(database_url, models_dir, playbook, low_confidence, at_risk_threshold)
