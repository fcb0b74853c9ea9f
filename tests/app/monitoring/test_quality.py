"""Live quality from true states sent by webhook (native and HubSpot) or a labelled file."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli.main import app
from app.monitoring.quality import MIN_STATE_CUSTOMERS
from app.monitoring.schemas import StateCalibrationOnTest
from app.monitoring.service import percentages_drifted
from app.tables import ObservedState
from tests.app.monitoring.helpers import constructed_truth, expected_figures
from tests.app.seeding import seed
from tests.app.webhooks.test_events import post
from tests.app.webhooks.test_hubspot import send
from training.features import STATES
from training.metrics import state_calibration
from training.reliability import METADATA_KEY
from training.simulation import Simulation
from training.train import TrainResult

URL = "/v1/models/current/monitoring"
LABELLED = 60
CALIBRATED = 300
runner = CliRunner()


def observed_rows(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(ObservedState)) or 0)


def reports_of(truth: dict[str, str], when: datetime) -> list[dict[str, Any]]:
    return [
        {"customer_id": c, "crm_state": s, "occurred_at": when.isoformat()}
        for c, s in truth.items()
    ]


def live_quality(client: TestClient, key: dict[str, str]) -> dict[str, Any]:
    response = client.get(URL, headers=key)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["live_quality"]
    return body


def test_state_reports_give_the_expected_precision_and_recall_once(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    results = seed(client, score_key, simulation, LABELLED)
    truth = constructed_truth(results, wrong_every=4)
    payload = reports_of(truth, datetime.now(UTC))
    first = post(client, payload)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 0  # a state report is not an interaction
    assert post(client, payload, msg_id="msg_2").status_code == 200  # the CRM retries
    assert observed_rows(db) == LABELLED

    live = live_quality(client, score_key)
    assert live["labelled"] == LABELLED
    assert live["enough"] is True
    for state, figures in expected_figures(results, truth).items():
        got = live["per_state"][state]
        assert got["support"] == figures["support"]
        for name in ("precision", "recall"):
            assert got[name] == pytest.approx(figures[name])
    assert 0.0 <= live["ece"] <= 1.0
    assert live["compared_with_test"]["macro_recall_test"] is not None


def test_a_prediction_made_after_the_truth_is_not_judged_by_it(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    earlier = datetime.now(UTC) - timedelta(hours=1)  # before the customers were scored
    results = seed(client, score_key, simulation, 10)
    assert post(client, reports_of(constructed_truth(results, 2), earlier)).status_code == 200
    live = live_quality(client, score_key)
    assert (live["labelled"], live["unscored"]) == (0, 10)


def test_a_bad_state_report_is_422_naming_its_place(client: TestClient, db: Session) -> None:
    now = datetime.now(UTC).isoformat()
    payload = [
        {"event_id": "e1", "customer_id": "c1", "type": "visit", "occurred_at": now},
        {"customer_id": "c1", "crm_state": "hot", "occurred_at": now},
    ]
    response = post(client, payload)
    assert response.status_code == 422
    assert response.json()["field"] == "1.crm_state"
    assert observed_rows(db) == 0
    payload[1]["crm_state"] = "intent"
    payload[0]["type"] = "call"
    response = post(client, payload)
    assert response.status_code == 422
    assert response.json()["field"] == "0.type"  # its place in the delivery as sent


def test_hubspot_deal_stages_become_true_states_once(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    seed(client, score_key, simulation, 3, ids="55{:d}")
    now_ms = int(time.time() * 1000)

    def change(n: int, stage: str) -> dict[str, Any]:
        return {
            "eventId": 9000 + n,
            "occurredAt": now_ms,
            "subscriptionType": "deal.propertyChange",
            "objectId": 550 + n,
            "propertyName": "dealstage",
            "propertyValue": stage,
        }

    # appointmentscheduled is no interaction (no rule), closedlost is no state.
    payload = [change(0, "appointmentscheduled"), change(1, "closedwon"), change(2, "closedlost")]
    response = send(client, payload)
    assert response.status_code == 200, response.text
    assert send(client, payload).status_code == 200
    rows = db.execute(select(ObservedState.customer_id, ObservedState.state)).all()
    assert sorted(tuple(r) for r in rows) == [("550", "interested"), ("551", "loyal")]
    assert {r.source for r in db.scalars(select(ObservedState))} == {"hubspot"}


@pytest.mark.usefixtures("cli_env")
def test_imported_labels_give_the_same_figures_and_rerun_safely(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, tmp_path: Path
) -> None:
    results = seed(client, score_key, simulation, LABELLED)
    truth = constructed_truth(results, wrong_every=3)
    when = datetime.now(UTC).isoformat()
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "customer_id,state,observed_at\n" + "".join(f"{c},{s},{when}\n" for c, s in truth.items())
    )
    first = runner.invoke(app, ["import", "labels", str(labels)])
    assert first.exit_code == 0, first.output
    assert f"imported {LABELLED} new of {LABELLED}" in first.output
    assert "imported 0 new" in runner.invoke(app, ["import", "labels", str(labels)]).output
    live = live_quality(client, score_key)
    assert live["labelled"] == LABELLED
    for state, figures in expected_figures(results, truth).items():
        assert live["per_state"][state]["recall"] == pytest.approx(figures["recall"])
        assert live["per_state"][state]["precision"] == pytest.approx(figures["precision"])


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("row", "named"),
    [
        ("c2,hot,2026-11-02T00:00:00Z", "column 'state' row 2"),
        ("c/2,intent,2026-11-02T00:00:00Z", "column 'customer_id' row 2"),
        ("c2,intent,yesterday", "column 'observed_at' row 2"),
        ("c2,intent,2099-01-01T00:00:00Z", "column 'observed_at' row 2"),
    ],
)
def test_a_bad_label_file_exits_2_naming_row_and_column(
    db: Session, tmp_path: Path, row: str, named: str
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(f"customer_id,state,observed_at\nc1,intent,2026-11-01T00:00:00Z\n{row}\n")
    result = runner.invoke(app, ["import", "labels", str(labels)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert named in lines[0]
    assert observed_rows(db) == 0  # nothing of a bad file is stored


@pytest.mark.usefixtures("cli_env")
def test_a_label_file_without_a_column_exits_2(db: Session, tmp_path: Path) -> None:  # noqa: ARG001
    labels = tmp_path / "labels.csv"
    labels.write_text("customer_id,state\nc1,intent\n")
    result = runner.invoke(app, ["import", "labels", str(labels)])
    assert result.exit_code == 2
    assert "column 'observed_at' is missing" in result.stderr


def test_each_state_gets_its_live_calibration_against_its_test_one(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, trained: TrainResult
) -> None:
    results = seed(client, score_key, simulation, CALIBRATED)
    truth = constructed_truth(results, wrong_every=2)  # half moved one state on
    assert post(client, reports_of(truth, datetime.now(UTC))).status_code == 200
    live = live_quality(client, score_key)
    assert live["labelled"] == CALIBRATED
    y_true = np.array([STATES.index(truth[r["customer_id"]]) for r in results])
    proba = np.array([[r["probabilities"][s] for s in STATES] for r in results])
    test = trained.path / "metadata.json"
    stored = json.loads(test.read_text())[METADATA_KEY]["per_state"]
    for state in STATES:
        assert live["compared_with_test"]["calibration_test"][state] == pytest.approx(stored[state])
    judged = 0
    for i, state in enumerate(STATES):
        got = live["calibration"][state]
        support = int((y_true == i).sum())
        expected = float(proba[:, i].sum())
        assert (got["support"], got["expected"]) == (support, pytest.approx(expected))
        if max(support, expected) < MIN_STATE_CUSTOMERS:
            assert (got["mean_predicted"], got["calibration_error"], got["drifted"]) == (
                None,
                None,
                False,
            )
            continue
        judged += 1
        assert got["mean_predicted"] == pytest.approx(expected / CALIBRATED)
        assert got["observed_share"] == pytest.approx(support / CALIBRATED)
        by_hand = state_calibration(y_true, proba, i)
        for name in ("calibration_error", "chance_error"):
            assert got[name] == pytest.approx(by_hand[name])
        test_figures = StateCalibrationOnTest(**stored[state])
        assert got["drifted"] is percentages_drifted(got, test_figures)
    assert judged >= 3
    assert any(v["drifted"] for v in live["calibration"].values())  # half the labels moved
