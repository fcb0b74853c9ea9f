"""The `dealnode` command as a user runs it: train on a mapped export, score, and bad input."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import runs as runs_cli
from app.cli.main import app
from app.keys.service import create_key, revoke_key
from app.tables import ScoringRun, ScoringRunShard
from tests.factories import EXAMPLE_MAPPING, crm_export
from tests.repo import ROOT
from training.simulation import Simulation
from training.train import TrainResult

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


def test_cli_version_prints_the_installed_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert result.stdout == f"dealnode {project['version']}\n"
    assert result.stdout.split()[1] == version("dealnode")


def _json_stdout(args: list[str]) -> list[dict[str, Any]]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)  # the whole of stdout is one document
    assert isinstance(rows, list)
    return rows


def test_models_list_json_gives_every_model_with_the_tables_fields(
    registry_dir: Path, second_version: str, trained: TrainResult
) -> None:
    (registry_dir / "2001-01-01_broken").mkdir()
    rows = _json_stdout(["models", "list", "--json", "--models-dir", str(registry_dir)])
    by_version = {row["version"]: row for row in rows}
    assert set(by_version) == {trained.version, second_version, "2001-01-01_broken"}
    fields = ["version", "created_at", "macro_f1", "promoted", "problem"]
    assert all(list(row) == [*fields, "segment_by", "segments_used"] for row in rows)
    assert all(row["segment_by"] is None for row in rows)
    assert [row["version"] for row in rows if row["promoted"]] == [trained.version]
    promoted = by_version[trained.version]
    meta = json.loads((registry_dir / trained.version / "metadata.json").read_text())
    assert promoted["macro_f1"] == meta["metrics"]["test"]["model"]["macro_f1"]
    assert promoted["problem"] is None
    broken = by_version["2001-01-01_broken"]
    assert broken["problem"]
    assert broken["macro_f1"] is None
    table = runner.invoke(app, ["models", "list", "--models-dir", str(registry_dir)])
    assert not table.stdout.lstrip().startswith("[")


@pytest.mark.usefixtures("cli_env")
def test_keys_list_json_gives_ids_scopes_and_revocations(db: Session) -> None:
    _, kept = create_key(db, scope="score", name="crm sync")
    _, gone = create_key(db, scope="admin", name="old laptop")
    db.commit()
    revoke_key(db, key_id=gone.key_id)
    db.commit()
    rows = _json_stdout(["keys", "list", "--json"])
    assert all(list(row) == ["key_id", "scope", "name", "created_at", "revoked_at"] for row in rows)
    by_id = {row["key_id"]: row for row in rows}
    assert set(by_id) == {kept.key_id, gone.key_id}
    assert by_id[kept.key_id]["scope"] == "score"
    assert by_id[kept.key_id]["name"] == "crm sync"
    assert by_id[kept.key_id]["revoked_at"] is None
    assert datetime.fromisoformat(by_id[gone.key_id]["revoked_at"]).tzinfo is not None
    assert datetime.fromisoformat(by_id[kept.key_id]["created_at"]).tzinfo is not None
    assert not any("dn_" in value for row in rows for value in map(str, row.values()))


def _seed_runs(db: Session) -> None:
    """Two runs: a finished one with two shards, and a later one still running."""
    t0 = datetime(2026, 11, 30, 2, 15, tzinfo=UTC)
    db.add(
        ScoringRun(
            id="nightly-1",
            model_version="2026-11-24_abc1234",
            as_of=t0,
            started_at=t0,
            finished_at=t0 + timedelta(minutes=9),
            status="succeeded",
            shards=2,
        )
    )
    db.add(
        ScoringRun(
            id="nightly-2",
            model_version="2026-11-24_abc1234",
            as_of=t0 + timedelta(days=1),
            started_at=t0 + timedelta(days=1),
            finished_at=None,
            status="running",
            shards=1,
        )
    )
    db.flush()
    for shard, (rows, changes) in enumerate([(600, 7), (400, 5)]):
        db.add(
            ScoringRunShard(
                run_id="nightly-1",
                shard=shard,
                owner=f"owner-{shard}",
                status="succeeded",
                started_at=t0,
                finished_at=t0 + timedelta(minutes=9),
                rows_scored=rows,
                state_changes=changes,
            )
        )
    db.commit()


@pytest.mark.usefixtures("cli_env")
def test_runs_list_json_is_the_apis_listing(
    db: Session,
    client: TestClient,
    score_key: dict[str, str],
) -> None:
    _seed_runs(db)
    rows = _json_stdout(["runs", "list", "--json"])
    assert [row["id"] for row in rows] == ["nightly-2", "nightly-1"]  # newest first
    assert rows[1]["rows_scored"] == 1000  # joined from its shards
    assert rows[1]["state_changes"] == 12
    assert rows[0]["finished_at"] is None
    api = client.get("/v1/runs", headers=score_key)
    assert api.status_code == 200
    assert rows == [{field: run[field] for field in rows[0]} for run in api.json()]
    assert list(rows[0]) == [
        "id",
        "status",
        "model_version",
        "as_of",
        "started_at",
        "finished_at",
        "dry_run",
        "rows_scored",
        "state_changes",
        "shards",
        "error",
    ]
    assert _json_stdout(["runs", "list", "--json", "--limit", "1"]) == rows[:1]


@pytest.mark.usefixtures("cli_env")
def test_runs_list_prints_a_table_and_refuses_a_bad_limit(
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed_runs(db)
    # rich fits a table to the terminal's width, which a console may have fixed when it was
    # made (from COLUMNS, as xdist's workers set it): widen the console the command prints with.
    monkeypatch.setattr(runs_cli.console, "width", 200)
    table = runner.invoke(app, ["runs", "list"])
    assert table.exit_code == 0, table.output
    assert "nightly-1" in table.stdout
    assert "1,000" in table.stdout
    bad = runner.invoke(app, ["runs", "list", "--limit", "0"])
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines() == ["error: --limit: use 1 to 200, not 0"]


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


def test_cli_train_chooses_states_by_a_cost_file(
    export_files: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, mapping = export_files
    costs = tmp_path / "costs.toml"
    costs.write_text("[deciding]\npotential = 6\ninterested = 4\n")
    models = tmp_path / "models"
    args = ["train", str(csv), "--mapping", str(mapping), "--models-dir", str(models)]
    result = runner.invoke(app, [*args, "--costs", str(costs)])
    assert result.exit_code == 0, result.output
    (model_dir,) = [p for p in models.iterdir() if p.is_dir()]
    decision = json.loads((model_dir / "metadata.json").read_text())["decision"]
    assert decision["kind"] == "cost matrix"
    assert decision["costs"][3][:2] == [6.0, 4.0]
    assert "cost file" in (model_dir / "report.md").read_text()


def test_cli_train_refuses_a_bad_cost_file_in_one_line(
    export_files: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, mapping = export_files
    costs = tmp_path / "costs.toml"
    costs.write_text("[buying]\npotential = 6\n")
    models = tmp_path / "models"
    args = ["train", str(csv), "--mapping", str(mapping), "--models-dir", str(models)]
    result = runner.invoke(app, [*args, "--costs", str(costs)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: costs costs.toml: [buying] is not a state "
        "(potential, interested, intent, deciding, loyal)"
    ]
    assert not models.exists() or list(models.iterdir()) == []
