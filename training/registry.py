"""The model registry: which models exist and which one is promoted.

The promoted model is named by one small pointer file replaced atomically (write a temporary
file, fsync, rename over the old one), so a crash mid-promote leaves either the old or the new
model promoted, never neither. Serving reads the pointer; it never guesses "the newest".
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sklearn.metrics import f1_score

from training.artifacts import (
    TEST_SET_FILE,
    LoadedModel,
    load_model,
    read_metadata,
    read_test_set,
)
from training.errors import DataError, ModelError
from training.fitting import label_codes
from training.prediction import Predictor, predict_table

POINTER_FILE = "PROMOTED"


@dataclass(frozen=True)
class ModelEntry:
    """One row of `dealnode models list`."""

    version: str
    created_at: str
    macro_f1: float | None
    promoted: bool
    problem: str | None = None
    segment_by: str | None = None
    """The column of a segment family (`train --segment-by`); None: one global model."""
    segments_used: tuple[str, ...] = ()
    """The segments scored by a model of their own; every other customer, the global model."""


def base_version(now: datetime | None = None, repo: Path | None = None) -> str:
    """Name a new model `YYYY-MM-DD_<gitsha7>` so a model can be traced to the code that made it."""
    day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    return f"{day}_{git_sha(repo)}"


def git_sha(repo: Path | None = None) -> str:
    """Short commit of the working tree, or `nogit` outside a checkout (e.g. in a container)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=7", "HEAD"],
            cwd=repo or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "nogit"
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else "nogit"


def model_dirs(models_dir: Path) -> list[Path]:
    """Model directories, oldest name first; hidden staging directories are not models."""
    if not models_dir.is_dir():
        return []
    return sorted(
        p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )


def list_models(models_dir: Path) -> list[ModelEntry]:
    """Describe every model directory, flagging broken ones instead of hiding them."""
    promoted = promoted_version(models_dir)
    entries = []
    for path in model_dirs(models_dir):
        try:
            meta = read_metadata(path)
            f1 = meta.get("metrics", {}).get("test", {}).get("model", {}).get("macro_f1")
            column, used = segments_of(meta)
            entries.append(
                ModelEntry(
                    path.name,
                    str(meta.get("created_at", "")),
                    f1,
                    path.name == promoted,
                    segment_by=column,
                    segments_used=used,
                )
            )
        except ModelError as exc:
            entries.append(ModelEntry(path.name, "", None, path.name == promoted, str(exc)))
    return entries


def segments_of(metadata: dict[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """A model's segment column (None without) and the segments whose own model is used."""
    family = metadata.get("segments")
    if not isinstance(family, dict):
        return None, ()
    models = family.get("models") or []
    return str(family.get("column")), tuple(str(m.get("value")) for m in models)


def promoted_version(models_dir: Path) -> str | None:
    """The promoted model's version, or None when nothing was promoted yet."""
    try:
        text = (models_dir / POINTER_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def promoted_at(models_dir: Path) -> datetime | None:
    """When the promoted pointer was last written (it is replaced whole on each promotion)."""
    try:
        stamp = (models_dir / POINTER_FILE).stat().st_mtime
    except FileNotFoundError:
        return None
    return datetime.fromtimestamp(stamp, UTC)


def resolve(models_dir: Path, version: str | None = None) -> Path:
    """Find the directory of `version`, or of the promoted model when no version is given."""
    chosen = version or promoted_version(models_dir)
    if chosen is None:
        raise ModelError(
            f"no model is promoted in {models_dir}; train one with `dealnode train` "
            "or name one with --model"
        )
    path = models_dir / chosen
    if chosen != path.name or not (path / "metadata.json").is_file():
        raise ModelError(f"model {chosen!r} not found in {models_dir}")
    return path


def load(models_dir: Path, version: str | None = None) -> LoadedModel:
    """Load and verify `version` or the promoted model."""
    return load_model(resolve(models_dir, version))


def write_pointer(models_dir: Path, version: str) -> None:
    """Point the registry at `version` atomically and durably."""
    tmp = models_dir / f".{POINTER_FILE}.{uuid.uuid4().hex}"
    with tmp.open("w") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, models_dir / POINTER_FILE)
    fd = os.open(models_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Comparison:
    """Both models' macro-F1 on the promoted model's held-out customers."""

    incumbent: str
    incumbent_f1: float
    candidate_f1: float
    rows: int

    @property
    def candidate_is_worse(self) -> bool:
        """Worse by more than float noise; an equal score may replace the incumbent."""
        return self.candidate_f1 < self.incumbent_f1 - 1e-9


def compare_on_incumbent_test(candidate: LoadedModel, incumbent: LoadedModel) -> Comparison:
    """Score both models on the customers the incumbent was tested on."""
    table = read_test_set(incumbent.path, incumbent.metadata)
    if table.labels is None:
        raise ModelError(f"model {incumbent.version}: {TEST_SET_FILE} has no labels")
    y = label_codes(table.labels)
    try:
        candidate_pred = predict_table(Predictor(candidate), table).winners
    except KeyError as exc:
        raise DataError(
            f"model {candidate.version} needs column {exc} that the test set of "
            f"{incumbent.version} does not have; use --force to promote anyway"
        ) from None
    incumbent_pred = predict_table(Predictor(incumbent), table).winners
    return Comparison(
        incumbent=incumbent.version,
        incumbent_f1=float(f1_score(y, incumbent_pred, average="macro")),
        candidate_f1=float(f1_score(y, candidate_pred, average="macro")),
        rows=len(y),
    )


def promote(models_dir: Path, version: str, *, force: bool = False) -> Comparison | None:
    """Promote `version` unless it scores worse than the promoted model (then DataError).

    Returns the comparison that justified it, or None when there was nothing to compare with.
    """
    candidate = load_model(resolve(models_dir, version))
    current = promoted_version(models_dir)
    comparison: Comparison | None = None
    if current is not None and current != version and not force:
        try:
            incumbent = load_model(resolve(models_dir, current))
        except ModelError:
            incumbent = None  # a broken incumbent must not block its own replacement
        if incumbent is not None:
            comparison = compare_on_incumbent_test(candidate, incumbent)
            if comparison.candidate_is_worse:
                raise DataError(
                    f"model {version} scores worse than promoted {current} on its "
                    f"{comparison.rows} test customers (macro-F1 {comparison.candidate_f1:.4f} "
                    f"< {comparison.incumbent_f1:.4f}); use --force to promote anyway"
                )
    write_pointer(models_dir, version)
    return comparison


def summary(entry: ModelEntry) -> dict[str, Any]:
    """A JSON-friendly view of a registry entry."""
    return {
        "version": entry.version,
        "created_at": entry.created_at,
        "macro_f1": entry.macro_f1,
        "promoted": entry.promoted,
        "problem": entry.problem,
        "segment_by": entry.segment_by,
        "segments_used": list(entry.segments_used),
    }
