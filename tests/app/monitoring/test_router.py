"""`GET /v1/models/current/monitoring` on customers the API stored, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.monitoring import live_inputs
from app.scoring.serving import ServingModel
from tests.app.monitoring.helpers import constructed_truth, seed_changed
from tests.app.seeding import seed
from tests.app.test_metrics import sample, scrape
from tests.app.webhooks.test_events import post
from training.features import STATES
from training.simulation import Simulation
from training.train import TrainResult

URL = "/v1/models/current/monitoring"
CUSTOMERS = 1500


def report(client: TestClient, key: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(URL, headers=key, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_customers_like_the_training_data_show_no_drift(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, trained: TrainResult
) -> None:
    seed(client, score_key, simulation, CUSTOMERS)
    body = report(client, score_key)
    assert body["model_version"] == trained.version
    assert body["drift_available"] is True
    assert set(body["windows"]) == {"7", "30"}
    for window in body["windows"].values():
        assert window["customers"] == CUSTOMERS
        assert window["sampled"] is False
        assert window["enough"] is True
        assert [f for f in window["features"] if f["level"] != "stable"] == []
        assert window["state_mix_level"] == "stable"
        assert sum(window["state_mix"].values()) == pytest.approx(1.0)
    assert body["retrain"]["advised"] is False
    assert body["retrain"]["because"][0] == "no input or state mix reached PSI 0.25"
    assert body["live_quality"]["labelled"] == 0


def test_customers_with_many_more_visits_show_drift_and_advise_retraining(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed_changed(client, score_key, simulation, CUSTOMERS, more_visits=25)
    body = report(client, score_key)
    window = body["windows"]["7"]
    levels = {f["name"]: f["level"] for f in window["features"]}
    assert levels["visits"] == "drift"
    assert levels["replies"] == "stable"  # only what visits feed into moved
    assert window["features"][0]["psi"] >= window["features"][-1]["psi"]  # worst first
    assert body["retrain"]["advised"] is True
    assert any("visits (PSI" in reason for reason in body["retrain"]["because"])


def test_a_small_sample_reads_the_most_recent_and_says_so(
    client: TestClient, score_key: dict[str, str], simulation: Simulation, db: Session
) -> None:
    seed(client, score_key, simulation, 300)
    serving: ServingModel = client.app.state.runtime.serving  # type: ignore[attr-defined]
    sample = live_inputs.read_window(
        db,
        serving.model.layout,
        since=datetime.now(UTC) - timedelta(days=7),
        limit=120,
    )
    assert (sample.customers, sample.sampled) == (120, True)
    assert sample.matrix.shape == (120, len(serving.model.layout.columns))
    assert set(sample.states) <= set(STATES)


def test_reports_are_reused_for_a_while_and_set_the_gauges(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed(client, score_key, simulation, 200)
    first = report(client, score_key)
    seed(client, score_key, simulation, 400, ids="later-{:04d}")
    again = report(client, score_key)
    assert again["computed_at"] == first["computed_at"]
    assert again["windows"]["7"]["customers"] == 200
    other_window = report(client, score_key, window_days=7)
    assert other_window["live_quality"]["window_days"] == 7
    assert other_window["windows"]["7"]["customers"] == 600
    scrape = client.get("/metrics", headers=score_key).text
    assert 'dealnode_feature_psi{feature="visits",window_days="7"}' in scrape
    assert 'dealnode_predicted_state_share{state="potential",window_days="30"}' in scrape


def test_window_days_out_of_range_is_422_naming_it(
    client: TestClient, score_key: dict[str, str]
) -> None:
    response = client.get(URL, headers=score_key, params={"window_days": 0})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "window_days" in response.text


def test_monitoring_needs_a_key(client: TestClient) -> None:
    assert client.get(URL).status_code == 401


def test_a_model_without_a_reference_says_so_plainly(
    old_model_client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed(old_model_client, score_key, simulation, 100)
    body = report(old_model_client, score_key)
    assert body["drift_available"] is False
    assert body["windows"] == {}
    assert "retrain it" in body["drift_note"]
    assert body["retrain"]["advised"] is False
    assert any("monitoring reference" in reason for reason in body["retrain"]["because"])


def test_a_database_with_no_customers_answers_and_advises_waiting(
    client: TestClient, score_key: dict[str, str]
) -> None:
    body = report(client, score_key)
    for window in body["windows"].values():
        assert (window["customers"], window["features"], window["state_mix_psi"]) == (0, [], None)
    assert body["retrain"]["advised"] is False
    assert body["retrain"]["because"][0] == (
        "only 0 customers scored in the last 7 days (drift is judged from 100)"
    )


def test_a_scrape_shows_the_served_models_report_without_anyone_asking(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed(client, score_key, simulation, 200)
    text = scrape(client, score_key)  # no report asked for yet: the scrape computes one
    assert sample(text, "dealnode_feature_psi", feature="visits", window_days="7") is not None
    assert sample(text, "dealnode_live_labelled") == 0
    stamp = sample(text, "dealnode_monitoring_report_timestamp_seconds")
    body = report(client, score_key)  # the endpoint reuses the scrape's report
    assert stamp == datetime.fromisoformat(body["computed_at"]).timestamp()
    report(client, score_key, window_days=7)  # another window: its own report, not the gauges'
    again = scrape(client, score_key)
    assert sample(again, "dealnode_monitoring_report_timestamp_seconds") == stamp


def test_the_gauges_carry_each_states_live_and_test_calibration(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    results = seed(client, score_key, simulation, 300)
    now = datetime.now(UTC).isoformat()
    truth = constructed_truth(results, wrong_every=2)
    reports = [{"customer_id": c, "crm_state": s, "occurred_at": now} for c, s in truth.items()]
    assert post(client, reports).status_code == 200
    text = scrape(client, score_key)
    live = report(client, score_key)["live_quality"]
    assert sample(text, "dealnode_live_labelled") == 300
    for state in STATES:
        figures = live["calibration"][state]
        for gauge, name in (
            ("dealnode_live_state_mean_probability", "mean_predicted"),
            ("dealnode_live_state_true_share", "observed_share"),
            ("dealnode_live_state_calibration_error", "calibration_error"),
        ):
            value = sample(text, gauge, state=state)
            # Too few customers in a state: no sample rather than a made-up number.
            assert value == (None if figures[name] is None else pytest.approx(figures[name]))
        tested = live["compared_with_test"]["calibration_test"][state]["calibration_error"]
        assert sample(text, "dealnode_test_state_calibration_error", state=state) == (
            pytest.approx(tested)
        )
