"""The `dealnode` command as a user runs it: train on a mapped export, score, and bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli import app
from tests.factories import EXAMPLE_MAPPING, crm_export
from training.simulation import Simulation

runner = CliRunner()


@pytest.fixture
def export_files(simulation: Simulation, tmp_path: Path) -> tuple[Path, Path]:
    """A CRM export of 3,000 simulated customers and the issue's example mapping."""
    export = crm_export(simulation.snapshot.iloc[:3000])
    csv = tmp_path / "export.csv"
    export.to_csv(csv, index=False)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(EXAMPLE_MAPPING)
    return csv, mapping


@pytest.mark.slow
def test_cli_trains_on_mapped_export_and_scores_it(
    export_files: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, mapping = export_files
    models = tmp_path / "models"
    trained = runner.invoke(
        app, ["train", str(csv), "--mapping", str(mapping), "--models-dir", str(models)]
    )
    assert trained.exit_code == 0, trained.output
    assert "promoted" in trained.output
    out = tmp_path / "scores.csv"
    scored = runner.invoke(
        app, ["score", str(csv), str(out), "--mapping", str(mapping), "--models-dir", str(models)]
    )
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(out, dtype={"customer_id": str})
    assert len(scores) == 3000
    assert list(scores.columns[:2]) == ["customer_id", "state"]
    assert scores.filter(like="p_").sum(axis=1).round(4).eq(1.0).all()
    assert scores["model_version"].nunique() == 1
    listed = runner.invoke(app, ["models", "list", "--models-dir", str(models)])
    assert scores["model_version"].iloc[0] in listed.output


def _drop_column(df: pd.DataFrame) -> None:
    del df["Quotes"]


def _negative(df: pd.DataFrame) -> None:
    df.loc[df.index[4], "Site Visits"] = "-2"


def _bad_time(df: pd.DataFrame) -> None:
    df.loc[df.index[6], "Created"] = "last tuesday"


def _unknown_label(df: pd.DataFrame) -> None:
    df.loc[df.index[8], "Stage"] = "Lost"


def _one_class(df: pd.DataFrame) -> None:
    df["Stage"] = "Engaged"


@pytest.mark.parametrize(
    ("damage", "names"),
    [
        (_drop_column, "Quotes"),
        (_negative, "Site Visits"),
        (_bad_time, "Created"),
        (_unknown_label, "Lost"),
        (_one_class, "Stage"),
    ],
)
def test_cli_train_rejects_bad_input_with_one_line_and_no_model(
    export_files: tuple[Path, Path],
    tmp_path: Path,
    damage: Callable[[pd.DataFrame], None],
    names: str,
) -> None:
    csv, mapping = export_files
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    damage(frame)
    frame.to_csv(csv, index=False)
    models = tmp_path / "models"
    result = runner.invoke(
        app, ["train", str(csv), "--mapping", str(mapping), "--models-dir", str(models)]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0]
    assert not models.exists() or list(models.iterdir()) == []


def test_cli_train_rejects_an_empty_file(export_files: tuple[Path, Path], tmp_path: Path) -> None:
    csv, mapping = export_files
    csv.write_text("")
    result = runner.invoke(
        app, ["train", str(csv), "--mapping", str(mapping), "--models-dir", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "empty" in result.stderr


def test_cli_score_without_a_model_exits_2(tmp_path: Path, snapshot_path: Path) -> None:
    result = runner.invoke(
        app, ["score", str(snapshot_path), str(tmp_path / "o.csv"), "--models-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "no model is promoted" in result.stderr


@pytest.mark.slow
def test_cli_train_takes_the_snapshot_time_from_as_of(
    export_files: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, mapping = export_files
    mapping.write_text(EXAMPLE_MAPPING.replace('as_of = "2026-11-01T00:00:00Z"\n', ""))
    models = tmp_path / "models"
    command = ["train", str(csv), "--mapping", str(mapping), "--models-dir", str(models)]

    missing = runner.invoke(app, command)
    assert missing.exit_code == 2
    assert "--as-of" in missing.stderr  # the hint names an option that exists
    unparsable = runner.invoke(app, [*command, "--as-of", "last tuesday"])
    assert unparsable.exit_code == 2
    assert unparsable.stderr.strip().splitlines() == [
        "error: --as-of: cannot parse 'last tuesday' as a time"
    ]
    trained = runner.invoke(app, [*command, "--as-of", "2026-11-01T00:00:00Z"])
    assert trained.exit_code == 0, trained.output
    (version,) = [p for p in models.iterdir() if (p / "metadata.json").is_file()]
    metadata = json.loads((version / "metadata.json").read_text())
    assert metadata["data"]["as_of"] == "2026-11-01T00:00:00+00:00"
