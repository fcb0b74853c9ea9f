"""The model this process serves, swapped whole when another is activated.

The predictor is swapped by replacing one reference under a lock; a request takes the
reference once at its start, so requests in flight finish on the model they began with and
none fails during an activation.
"""

from __future__ import annotations

import threading
from pathlib import Path

from app.errors import ModelUnavailable
from training import registry
from training.artifacts import LoadedModel
from training.prediction import Predictor


class ServingModel:
    """Holds the served predictor: thread-safe swaps, lock-free reads."""

    def __init__(self, models_dir: Path, *, threads: int | None = None) -> None:
        self.models_dir = models_dir
        self.threads = threads
        self._predictor: Predictor | None = None
        self._lock = threading.Lock()

    @property
    def predictor(self) -> Predictor:
        """The served model with its explainer; ModelUnavailable (503) when none is loaded."""
        current = self._predictor
        if current is None:
            raise ModelUnavailable("no model is loaded; train and promote one")
        return current

    @property
    def model(self) -> LoadedModel:
        """The served model; ModelUnavailable (503) when none is loaded."""
        return self.predictor.model

    @property
    def loaded(self) -> bool:
        """Whether a model is ready to serve."""
        return self._predictor is not None

    def activate(self, version: str | None = None) -> LoadedModel:
        """Load and verify `version` (default: promoted), then serve it."""
        with self._lock:
            predictor = self.prepare(version)
            self._predictor = predictor
            return predictor.model

    def prepare(self, version: str | None = None) -> Predictor:
        """Load and verify `version` (default: promoted) without serving it yet.

        Apart from `install`, so a caller can record the choice elsewhere first and the old
        model keeps serving if this fails (ModelError).
        """
        model = registry.load(self.models_dir, version)
        return Predictor(model, self.threads).warmed()

    def install(self, predictor: Predictor) -> None:
        """Serve a prepared predictor from now on."""
        with self._lock:
            self._predictor = predictor
