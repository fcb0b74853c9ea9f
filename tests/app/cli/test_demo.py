"""`dealnode demo`: simulated customers with events and a state history, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli.main import app
from app.config import get_settings
from app.tables import Customer, CustomerScore, InteractionEvent
from training.artifacts import read_metadata
from training.design import FeatureLayout
from training.train import TrainResult

runner = CliRunner()


@pytest.mark.usefixtures("cli_env")
def test_demo_loads_scored_customers_with_events_and_history_once(
    db: Session, trained: TrainResult
) -> None:
    first = runner.invoke(app, ["demo", "--customers", "40", "--seed", "3"])
    assert first.exit_code == 0, first.output
    assert "/app" in first.stdout
    customers = db.scalars(select(Customer)).all()
    assert 0 < len(customers) <= 40
    assert all(c.state is not None and c.latest_score is not None for c in customers)
    events = db.scalar(select(func.count()).select_from(InteractionEvent)) or 0
    assert events > len(customers)
    # Events carry no attributes: the demo keeps the ones the model reads, as a CRM would.
    layout = FeatureLayout.from_json(read_metadata(trained.path)["layout"])
    segments = [c.extras.get("segment") for c in customers]
    known = [s for s in segments if s is not None]
    assert len(known) >= 0.9 * len(segments)  # the simulator leaves a few values unknown
    assert set(known) <= set(layout.categories["segment"])
    changes = db.scalar(select(func.count()).select_from(CustomerScore)) or 0
    assert changes > len(customers), "no one has a history to chart"

    again = runner.invoke(app, ["demo", "--customers", "40", "--seed", "3"])
    assert again.exit_code == 0, again.output
    assert "loaded 0 events" in again.stdout
    assert db.scalar(select(func.count()).select_from(InteractionEvent)) == events


@pytest.mark.usefixtures("cli_env")
def test_demo_without_a_model_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALNODE_MODELS_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    result = runner.invoke(app, ["demo", "--customers", "5"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ")
