"""What a nightly-run worker process is started with: light, so a worker's start stays cheap.

Its own module so that the workers' launcher (`workers.py`) and what runs inside a worker
(`scoring.py`) both depend on it, and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config import Settings
    from app.scoring.actions import Playbook
    from app.scoring.serving import Scorer


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to read and score chunks on its own."""

    database_url: str
    models_dir: Path
    playbook: Playbook
    low_confidence: float

    @classmethod
    def scoring_as(cls, database_url: str, scoring: Settings | Scorer) -> WorkerSetup:
        """What workers need to read `database_url` and score as `scoring` does.

        `scoring` is a process's settings, so that `dealnode rescore` can start its workers
        before it builds a scorer, or the scorer of a run already under way.
        """
        from app.scoring.actions import load_playbook  # pandas: not at a worker's import

        playbook = scoring.playbook
        if isinstance(playbook, Path):  # settings name the file, a scorer holds it read
            playbook = load_playbook(playbook)
        return cls(database_url, scoring.models_dir, playbook, scoring.low_confidence)
