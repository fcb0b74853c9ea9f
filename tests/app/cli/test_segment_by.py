"""`dealnode train --segment-by` and `dealnode models list` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli.main import app
from tests.factories import EXAMPLE_MAPPING, crm_export
from training.train import TrainResult

runner = CliRunner()


@pytest.mark.parametrize("column", ["industry", "visits"])
def test_a_column_that_is_not_a_categorical_input_exits_2_with_one_line(
    region_data: Path, tmp_path: Path, column: str
) -> None:
    models = tmp_path / "models"
    result = runner.invoke(
        app, ["train", str(region_data), "--models-dir", str(models), "--segment-by", column]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"--segment-by {column!r}" in lines[0]
    assert not models.exists() or list(models.iterdir()) == []


@pytest.mark.slow
def test_segment_by_a_mapped_exports_column(region_data: Path, tmp_path: Path) -> None:
    csv, mapping, models = tmp_path / "export.csv", tmp_path / "mapping.toml", tmp_path / "m"
    crm_export(pd.read_parquet(region_data)).to_csv(csv, index=False)
    mapping.write_text(EXAMPLE_MAPPING)
    command = ["train", str(csv), "--mapping", str(mapping), "--models-dir", str(models)]
    result = runner.invoke(app, [*command, "--segment-by", "Segment"])
    assert result.exit_code == 0, result.stderr
    [model] = [p for p in models.iterdir() if p.is_dir()]
    segments = json.loads((model / "metadata.json").read_text())["segments"]
    assert segments["column"] == "Segment"
    assert "odd" in [m["value"] for m in segments["models"]]
    bad = runner.invoke(app, [*command, "--segment-by", "Site Visits"])
    assert bad.exit_code == 2
    assert "--segment-by 'Site Visits'" in bad.stderr


def test_models_list_shows_the_segment_column_and_the_models_used(
    segmented: TrainResult,
) -> None:
    models = str(segmented.path.parent)
    listed = runner.invoke(app, ["models", "list", "--models-dir", models, "--json"])
    assert listed.exit_code == 0
    [entry] = json.loads(listed.stdout)
    assert entry["segment_by"] == "segment"
    assert entry["segments_used"] == ["odd"]
    table = runner.invoke(app, ["models", "list", "--models-dir", models])
    assert "segment: odd" in table.stdout
