"""`dealnode monitor`: the report in words, ending with whether to retrain."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli.main import app
from tests.app.monitoring.helpers import seed_changed
from tests.app.seeding import seed
from training.simulation import Simulation

runner = CliRunner()


@pytest.mark.usefixtures("cli_env")
def test_monitor_ends_with_not_yet_when_nothing_moved(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed(client, score_key, simulation, 400)
    result = runner.invoke(app, ["monitor"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("Model ")
    assert "Last 7 days: 400 customers scored." in lines
    assert "Live quality over 30 days: 0 labelled customers." in lines
    assert lines[-1].startswith("Retrain: not yet — no input or state mix reached PSI 0.25; ")
    assert "only 0 labelled customers" in lines[-1]


@pytest.mark.usefixtures("cli_env")
def test_monitor_says_yes_and_why_when_inputs_drifted(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed_changed(client, score_key, simulation, 400, more_visits=25)
    result = runner.invoke(app, ["monitor", "--window-days", "7"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert any(line.startswith("  Drifted inputs: visits (PSI") for line in lines)
    assert lines[-1].startswith("Retrain: yes — inputs drifted in the last 7 days: visits (PSI")
    document = json.loads(runner.invoke(app, ["monitor", "--json"]).output)
    assert document["retrain"]["advised"] is True
    assert document["live_quality"]["window_days"] == 30


@pytest.mark.usefixtures("cli_env")
def test_monitor_refuses_a_window_out_of_range(client: TestClient) -> None:  # noqa: ARG001
    result = runner.invoke(app, ["monitor", "--window-days", "0"])
    assert result.exit_code == 2
