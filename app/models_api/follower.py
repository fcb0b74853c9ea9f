"""Keep this process serving the one active model, whichever process activated it.

The choice: DEALNODE_MODEL_VERSION (a pin) if set, else the later of the two decisions an
operator can make, an activation through the API (the `active_model` row) or a promotion in
the registry (its pointer file's time), so `dealnode models promote` after an activation is
not silently ignored. A thread checks it every
`active_model_poll_seconds` and swaps the model when it changed, so every worker and replica
follows an activation within seconds and a restart keeps it; predictions never ask the
database which model to use.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.errors import Conflict
from app.metrics import Metrics
from app.models_api import active
from app.scoring.serving import ServingModel
from training import registry
from training.artifacts import LoadedModel
from training.errors import ModelError

log = logging.getLogger("dealnode")
MAX_RETRY_SECONDS = 60.0
"""Longest wait before loading a chosen model that failed to load is tried again."""


@dataclass(frozen=True)
class Choice:
    """The model this process should serve, and what chose it."""

    version: str | None
    """None: nothing is promoted (loading it says so)."""
    source: Literal["pin", "activation", "promoted"]
    activated_at: datetime | None = None
    """Tells a new activation of the same version from the old one, so it is retried."""


class ModelFollower:
    """Loads the chosen model at start-up, follows changes, and activates on request."""

    def __init__(
        self,
        serving: ServingModel,
        sessions: sessionmaker[Session],
        metrics: Metrics,
        *,
        pin: str | None,
        poll_seconds: float,
    ) -> None:
        self.serving = serving
        self.sessions = sessions
        self.metrics = metrics
        self.pin = pin
        self.poll_seconds = poll_seconds
        self.problem: str | None = None
        """Why the chosen model is not serving, if it is not."""
        self._seen: Choice | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._database_failing = False
        self._failures = 0
        self._retry_at = 0.0

    def choice(self) -> Choice:
        """Read which model should serve (a database query unless pinned)."""
        if self.pin:
            return Choice(self.pin, "pin")
        with self.sessions() as session:
            row = active.read(session)
        promoted_at = registry.promoted_at(self.serving.models_dir)
        if row is not None and (promoted_at is None or row.activated_at >= promoted_at):
            return Choice(row.version, "activation", row.activated_at)
        return Choice(registry.promoted_version(self.serving.models_dir), "promoted")

    def start_up(self, *, need_model: bool) -> None:
        """Load the chosen model; with `need_model`, ModelError says why there is none.

        Without it (a server), a model that cannot load is logged in one line and the server
        starts not ready; an unreachable database falls back to the promoted model until the
        next check.
        """
        with self._lock:
            try:
                choice = self.choice()
            except SQLAlchemyError as exc:
                if need_model:
                    raise
                log.warning(
                    "cannot read the active model (%s); serving the promoted one meanwhile",
                    _one_line(exc),
                )
                self._follow(Choice(registry.promoted_version(self.serving.models_dir), "promoted"))
                self._seen = None  # read it again at the next check
                return
            self._follow(choice, need_model=need_model)

    def sync(self) -> None:
        """Swap to the chosen model if it changed since the last look, or retry one that
        failed to load once its back-off has passed (a file still being copied, say)."""
        with self._lock:  # read under the lock: an activation here must not be undone
            choice = self.choice()
            if choice != self._seen or (
                self.problem is not None and time.monotonic() >= self._retry_at
            ):
                self._follow(choice)

    def activate(self, version: str, *, by: str) -> LoadedModel:
        """Make `version` the active model of every process, starting with this one.

        ModelError (the old model keeps serving, nothing is recorded) if it cannot load;
        Conflict when this process is pinned.
        """
        if self.pin:
            raise Conflict(
                f"this server is pinned to model {self.pin} by DEALNODE_MODEL_VERSION; "
                "unset it to activate models",
                field="version",
            )
        with self._lock:
            predictor = self.serving.prepare(version)
            with self.sessions() as session:
                after = registry.promoted_at(self.serving.models_dir)
                activated_at = active.record(session, version, by=by, after=after)
                session.commit()
            self.serving.install(predictor)
            self._seen = Choice(version, "activation", activated_at)
            self.problem, self._failures = None, 0
            self.metrics.set_model(version)
            log.info("serving model %s (activated by %s)", version, by)
            return predictor.model

    def start(self) -> None:
        """Check for changes in a background thread (not when pinned: nothing can change)."""
        if self.pin or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._poll, name="active-model", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the background checks."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _follow(self, choice: Choice, *, need_model: bool = False) -> None:
        self._seen = choice
        current = self.serving.model.version if self.serving.loaded else None
        if current is not None and current == choice.version:
            self.problem = None
            self._failures = 0
            return
        try:
            model = self.serving.activate(choice.version)
        except ModelError as exc:
            if need_model:
                raise
            # Each try vets the file in a child process: back off rather than retry each poll.
            self._failures += 1
            delay = min(self.poll_seconds * 2**self._failures, MAX_RETRY_SECONDS)
            self._retry_at = time.monotonic() + delay
            self.problem = _one_line(exc)
            if current is None:
                log.error("no model loaded: %s", self.problem)
            else:
                log.error("still serving model %s: %s", current, self.problem)
            return
        self.problem = None
        self._failures = 0
        self.metrics.set_model(model.version)
        log.info("serving model %s (%s)", model.version, choice.source)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.sync()
            except SQLAlchemyError as exc:
                if not self._database_failing:
                    log.warning("cannot read the active model: %s", _one_line(exc))
                self._database_failing = True
                continue
            except Exception:  # the thread must outlive any one bad check
                log.exception("following the active model failed")
                continue
            self._database_failing = False


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
