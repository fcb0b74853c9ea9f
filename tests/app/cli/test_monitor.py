"""`dealnode monitor`: the report in words, ending with whether to retrain."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli.main import app
from tests.app.monitoring.helpers import constructed_truth, seed_changed
from tests.app.seeding import seed
from tests.app.webhooks.test_events import post
from training.features import STATES
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


@pytest.mark.usefixtures("cli_env")
def test_monitor_names_the_states_whose_percentages_drifted_from_reality(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    results = seed(client, score_key, simulation, 300)
    truth = constructed_truth(results, wrong_every=2)  # half moved one state on
    now = datetime.now(UTC).isoformat()
    reports = [{"customer_id": c, "crm_state": s, "occurred_at": now} for c, s in truth.items()]
    assert post(client, reports).status_code == 200
    document = json.loads(runner.invoke(app, ["monitor", "--json"]).output)
    calibration = document["live_quality"]["calibration"]
    figures_gap = document["live_quality"]["calibration_gap"]
    drifted = [s for s in STATES if calibration[s]["drifted"]]
    assert drifted, "half the labels moved: some state's percentages must be off"
    lines = runner.invoke(app, ["monitor"]).output.strip().splitlines()
    verdict = next(line for line in lines if "no longer match reality" in line)
    for state in STATES:
        figures = calibration[state]
        if figures["mean_predicted"] is None:
            assert any(line.startswith(f"    {state}: too few customers to tell") for line in lines)
            continue
        shown, truly = figures["mean_predicted"], figures["observed_share"]
        head = f"    {state}: shown {shown:.0%} on average, truly {truly:.0%}; off by "
        assert any(line.startswith(head) for line in lines), head
        if state not in drifted:
            assert f"{state}: " not in verdict
        elif abs(shown - truly) >= figures_gap:
            lean = "high" if shown > truly else "low"
            assert f"{state}: its percentages are too {lean} ({shown:.0%}" in verdict
        else:
            assert f"{state}: right on average ({shown:.0%} against {truly:.0%}" in verdict
    assert lines[-1].startswith("Retrain: ")


@pytest.mark.usefixtures("cli_env")
def test_monitor_says_a_state_with_too_few_labels_cannot_be_told(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    results = seed(client, score_key, simulation, 10)
    now = datetime.now(UTC).isoformat()
    reports = [
        {"customer_id": r["customer_id"], "crm_state": "loyal", "occurred_at": now} for r in results
    ]
    assert post(client, reports).status_code == 200
    lines = runner.invoke(app, ["monitor"]).output.strip().splitlines()
    assert "    loyal: too few customers to tell (10 truly loyal," in "\n".join(lines)
    assert not any("no longer match reality" in line for line in lines)
    assert not any("have drifted from reality" in line for line in lines)
