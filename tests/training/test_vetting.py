"""Loading a model file LightGBM cannot read fails with ModelError, never by killing us."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.broken_models import broken_copy
from training import vetting
from training.artifacts import load_model
from training.errors import ModelError
from training.train import TrainResult


def test_load_model_refuses_a_booster_that_crashes_lightgbm(
    registry_dir: Path, trained: TrainResult
) -> None:
    broken = registry_dir / broken_copy(registry_dir, trained.version)
    with pytest.raises(ModelError, match=r"model.txt is malformed: LightGBM crashed .*SIGABRT"):
        load_model(broken)
    with pytest.raises(ModelError, match="LightGBM crashed"):
        load_model(broken)  # refused again: only what loaded cleanly is remembered


def test_a_vetted_booster_is_not_vetted_again(
    registry_dir: Path, trained: TrainResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vetting, "_vetted", set())
    children: list[Any] = []
    run = subprocess.run

    def counted(*args: Any, **kwargs: Any) -> Any:
        children.append(args)
        return run(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counted)
    first = load_model(registry_dir / trained.version)
    second = load_model(registry_dir / trained.version)
    assert first.at_risk is not None  # so both boosters are vetted, each once
    assert len(children) == 2
    assert all(vetting.is_vetted(checksum) for checksum in first.checksums)
    assert first.checksums == second.checksums
