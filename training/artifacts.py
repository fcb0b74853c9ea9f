"""Save and load one model directory, and refuse a model the running code cannot trust.

A model directory holds `model.txt` (LightGBM's own text format: nothing is unpickled),
`metadata.json`, the held-out `test_set.parquet` (so a later model can be compared on the same
customers) and the report. Loading checks the checksum, the feature-set hash and the label set
against the code, so a stale or damaged model fails loudly at start-up instead of scoring wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pandas as pd

from training import vetting
from training.decision import DecisionRule
from training.design import FeatureLayout
from training.errors import ModelError
from training.features import RAW_INPUTS, STATES, feature_set_hash, to_utc
from training.reliability import METADATA_KEY as RELIABILITY_KEY
from training.reliability import Reliability
from training.segments import SegmentFamily, SegmentPart
from training.table import CustomerTable

METADATA_FILE = "metadata.json"
BOOSTER_FILE = "model.txt"
AT_RISK_BOOSTER_FILE = "at_risk.txt"
SEGMENTS_DIR = "segments"
"""Segment models' boosters, `segments/<n>.txt` (`training/segments.py`)."""
TEST_SET_FILE = "test_set.parquet"
METADATA_FORMAT = 1
_EXTRA_PREFIX = "extra:"
_LABEL_COLUMN = "label:state"


@dataclass(frozen=True)
class AtRiskPart:
    """A model's optional at-risk booster (`training/at_risk.py`), verified like the main one."""

    booster: lgb.Booster
    scale: float
    bias: float
    horizon_days: int
    checksum: str


@dataclass(frozen=True)
class LoadedModel:
    """A verified model, ready to score customer tables."""

    version: str
    path: Path
    booster: lgb.Booster
    layout: FeatureLayout
    temperature: float
    metadata: dict[str, Any]
    decision: DecisionRule
    at_risk: AtRiskPart | None = None
    """None for a model trained on data without the at-risk label."""
    segments: SegmentFamily | None = None
    """The segment models used (`train --segment-by`); None: the global model scores all."""
    reliability: Reliability | None = None
    """Its calibration on its test customers, measured at training; None for a model trained
    before training stored it (`training/reliability.py`)."""

    @property
    def checksum(self) -> str:
        """SHA-256 of the booster text, verified and vetted when the model was loaded."""
        return str(self.metadata["booster"]["sha256"])

    @property
    def checksums(self) -> tuple[str, ...]:
        """SHA-256 of every booster text: the state model's, the at-risk model's, then the
        segment models'."""
        risk = () if self.at_risk is None else (self.at_risk.checksum,)
        family = () if self.segments is None else tuple(p.checksum for p in self.segments.parts)
        return (self.checksum, *risk, *family)


def sha256_file(path: Path) -> str:
    """Hash a file in chunks so large data files do not have to fit in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def staging_dir(models_dir: Path) -> Iterator[Path]:
    """Yield a hidden directory to build a model in; it is removed unless published.

    Building next to the registry (same filesystem) lets `publish` be one atomic rename, so a
    reader never sees a half-written model and a failed run leaves nothing behind.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / f".staging-{uuid.uuid4().hex}"
    path.mkdir()
    try:
        yield path
    finally:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)


def publish(staging: Path, models_dir: Path, base_version: str) -> str:
    """Move a finished staging directory to `models_dir/<version>` and return the version.

    The version is `base_version`, or `base_version-2`, `-3`... when a model of the same day
    and commit exists already.
    """
    for n in range(1, 1000):
        version = base_version if n == 1 else f"{base_version}-{n}"
        target = models_dir / version
        if target.exists():
            continue
        metadata_path = staging / METADATA_FILE
        metadata = json.loads(metadata_path.read_text())
        metadata["version"] = version
        _write_json(metadata_path, metadata)
        try:
            os.rename(staging, target)
        except OSError:
            continue
        _fsync_dir(models_dir)
        return version
    raise ModelError(f"no free version name for {base_version}")


def write_booster(staging: Path, booster: lgb.Booster, file: str = BOOSTER_FILE) -> dict[str, Any]:
    """Save the booster as text and return the metadata that lets a loader verify it."""
    path = staging / file
    path.parent.mkdir(exist_ok=True)
    path.write_text(booster.model_to_string())
    return {
        "file": file,
        "sha256": sha256_file(path),
        "best_iteration": booster.best_iteration,
        "num_features": booster.num_feature(),
    }


def write_metadata(staging: Path, metadata: dict[str, Any]) -> None:
    """Write metadata.json (the last file written, so its presence marks a complete model)."""
    _write_json(staging / METADATA_FILE, {"format": METADATA_FORMAT, **metadata})


def read_metadata(path: Path) -> dict[str, Any]:
    """Read a model directory's metadata, with a ModelError that names the directory."""
    try:
        data = json.loads((path / METADATA_FILE).read_text())
    except FileNotFoundError:
        raise ModelError(f"model {path.name}: {METADATA_FILE} is missing") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"model {path.name}: {METADATA_FILE} is unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"model {path.name}: {METADATA_FILE} is not an object")
    return data


def load_model(path: Path) -> LoadedModel:
    """Load and verify a model directory; ModelError says exactly what does not match."""
    metadata = read_metadata(path)
    name = path.name
    try:
        feature_set = metadata["feature_set"]
        booster_meta = metadata["booster"]
        layout = FeatureLayout.from_json(metadata["layout"])
        temperature = float(metadata["calibration"]["temperature"])
        labels = list(metadata["labels"])
        decision = DecisionRule.from_json(metadata.get("decision"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model {name}: metadata.json lacks {exc}") from None
    if feature_set.get("hash") != feature_set_hash():
        raise ModelError(
            f"model {name}: built for feature set {feature_set.get('name')} "
            f"hash {feature_set.get('hash')}, but this code has hash {feature_set_hash()}; "
            "retrain it with `dealnode train`"
        )
    if labels != list(STATES):
        raise ModelError(f"model {name}: label set {labels} differs from {list(STATES)}")
    booster = _load_booster(path, booster_meta, BOOSTER_FILE, len(layout.columns))
    return LoadedModel(
        version=str(metadata.get("version", name)),
        path=path,
        booster=booster,
        layout=layout,
        temperature=temperature,
        metadata=metadata,
        decision=decision,
        at_risk=_load_at_risk(path, metadata, len(layout.columns)),
        segments=_load_segments(path, metadata, len(layout.columns)),
        reliability=_load_reliability(path, metadata),
    )


def _load_reliability(path: Path, metadata: dict[str, Any]) -> Reliability | None:
    """The test calibration when the metadata records it; a damaged block refuses the model
    like any other damaged part of its metadata."""
    entry = metadata.get(RELIABILITY_KEY)
    if entry is None:
        return None
    try:
        return Reliability.from_json(entry)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"model {path.name}: metadata.json's {RELIABILITY_KEY}: bad or missing {exc}"
        ) from None


def _load_at_risk(path: Path, metadata: dict[str, Any], n_features: int) -> AtRiskPart | None:
    """The at-risk booster when the metadata records one; held to the same checks."""
    part = metadata.get("at_risk")
    if part is None:
        return None
    try:
        booster_meta = part["booster"]
        scale = float(part["calibration"]["scale"])
        bias = float(part["calibration"]["bias"])
        horizon = int(part["horizon_days"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model {path.name}: metadata.json's at_risk lacks {exc}") from None
    booster = _load_booster(path, booster_meta, AT_RISK_BOOSTER_FILE, n_features)
    return AtRiskPart(booster, scale, bias, horizon, str(booster_meta["sha256"]))


def _load_segments(path: Path, metadata: dict[str, Any], n_features: int) -> SegmentFamily | None:
    """The segment models used, when the metadata records any; each held to the same checks
    as model.txt, so one damaged segment booster refuses the whole model."""
    family = metadata.get("segments")
    if family is None or family.get("models") == []:
        return None  # no segment model beat the global one: it scores every customer
    parts = []
    try:
        column = str(family["column"])
        for entry in family["models"]:
            booster_meta = entry["booster"]
            file = Path(str(booster_meta["file"]))
            if file.is_absolute() or file.parts[:1] != (SEGMENTS_DIR,) or ".." in file.parts:
                raise ValueError(f"booster file {file} outside {SEGMENTS_DIR}/")
            booster = _load_booster(path, booster_meta, str(file), n_features)
            parts.append(
                SegmentPart(
                    str(entry["value"]),
                    booster,
                    float(entry["temperature"]),
                    str(booster_meta["sha256"]),
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"model {path.name}: metadata.json's segments: bad or missing {exc}"
        ) from None
    return SegmentFamily(column, tuple(parts))


def _load_booster(
    path: Path, booster_meta: dict[str, Any], default_file: str, n_features: int
) -> lgb.Booster:
    """Read, checksum, vet and parse one booster file of a model directory."""
    name = path.name
    booster_path = path / str(booster_meta.get("file", default_file))
    if not booster_path.is_file():
        raise ModelError(f"model {name}: {booster_path.name} is missing")
    # One read: the bytes checked are the bytes vetted and parsed.
    data = booster_path.read_bytes()
    checksum = hashlib.sha256(data).hexdigest()
    if checksum != booster_meta.get("sha256"):
        raise ModelError(f"model {name}: {booster_path.name} is corrupt or truncated (checksum)")
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise ModelError(f"model {name}: {booster_path.name} cannot be parsed ({exc})") from None
    vetting.vet(text, checksum, what=f"model {name}: {booster_path.name}")
    try:
        booster = lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise ModelError(f"model {name}: {booster_path.name} cannot be parsed ({exc})") from None
    if booster.num_feature() != n_features:
        raise ModelError(
            f"model {name}: booster reads {booster.num_feature()} features, layout has {n_features}"
        )
    return booster


def write_test_set(path: Path, table: CustomerTable) -> None:
    """Keep the held-out customers so later models can be judged on exactly the same rows."""
    frame = table.raw.copy()
    for column in table.extras.columns:
        frame[_EXTRA_PREFIX + column] = table.extras[column]
    if table.labels is not None:
        frame[_LABEL_COLUMN] = table.labels.to_numpy()
    frame.to_parquet(path)


def read_test_set(path: Path, metadata: dict[str, Any]) -> CustomerTable:
    """Read a model's held-out customers back as a labelled table."""
    frame = pd.read_parquet(path / TEST_SET_FILE)
    extras = frame[[c for c in frame.columns if c.startswith(_EXTRA_PREFIX)]]
    extras.columns = [c.removeprefix(_EXTRA_PREFIX) for c in extras.columns]
    layout = FeatureLayout.from_json(metadata["layout"])
    return CustomerTable(
        raw=frame[list(RAW_INPUTS)],
        extras=extras,
        labels=frame[_LABEL_COLUMN],
        as_of=to_utc(metadata["data"]["as_of"]),
        extra_numeric=layout.extra_numeric,
        extra_categorical=layout.extra_categorical,
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
