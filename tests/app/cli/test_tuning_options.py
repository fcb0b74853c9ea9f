"""`dealnode train --budget/--trials`: durations a person types, and one line for a typo."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import training.train
from app.cli.main import app
from app.cli.tuning_options import parse_budget, parse_trials
from training.errors import DataError
from training.train import TrainConfig, TrainResult

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("300", 300.0), ("1.5m", 90.0), (" 2M ", 120.0)],
)
def test_budgets_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_budget(text) == seconds


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--budget", "soon", "cannot read 'soon' as a duration"),
        ("--budget", "5x", "cannot read '5x' as a duration"),
        ("--budget", "-5m", "cannot read '-5m' as a duration"),
        ("--budget", "0", "must be more than 0 seconds, not '0'"),
        ("--budget", "0.0s", "must be more than 0 seconds, not '0.0s'"),
        ("--trials", "0", "use a whole number of 1 or more, not '0'"),
        ("--trials", "two", "use a whole number of 1 or more, not 'two'"),
        ("--trials", "2.5", "use a whole number of 1 or more, not '2.5'"),
    ],
)
def test_a_bad_budget_or_trial_count_exits_2_with_one_line(
    tmp_path: Path, option: str, value: str, says: str
) -> None:
    models = tmp_path / "models"
    result = runner.invoke(
        app, ["train", str(tmp_path / "any.csv"), "--models-dir", str(models), option, value]
    )
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {option}: {says}")
    assert not models.exists()


def test_trials_accept_whole_numbers() -> None:
    assert parse_trials("4") == 4
    with pytest.raises(ValueError, match="--trials"):
        parse_trials("-1")


def test_train_passes_the_budget_and_trials_to_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search itself is tested in tests/training; here only that the options arrive."""
    seen: list[TrainConfig] = []

    def record(config: TrainConfig) -> TrainResult:
        seen.append(config)
        raise DataError("stopped after reading the options")

    monkeypatch.setattr(training.train, "train", record)
    result = runner.invoke(
        app, ["train", str(tmp_path / "a.csv"), "--trials", "2", "--budget", "1h", "--seed", "5"]
    )
    assert result.exit_code == 2
    assert "stopped after reading the options" in result.stderr
    (config,) = seen
    assert (config.budget_seconds, config.trials, config.seed) == (3600.0, 2, 5)
    untuned = runner.invoke(app, ["train", str(tmp_path / "a.csv")])
    assert untuned.exit_code == 2
    assert (seen[1].budget_seconds, seen[1].trials) == (None, None)
