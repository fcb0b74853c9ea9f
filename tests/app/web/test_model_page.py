"""The model page shows the serving model's calibration on its own test customers and the
monitoring report `GET /v1/models/current/monitoring` gives, number for number."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.web.templating import NONE
from tests.app.monitoring.helpers import constructed_truth, seed_changed
from tests.app.seeding import seed
from tests.app.web.chart_images import charts_in
from tests.app.web.signing_in import sign_in
from tests.app.webhooks.test_events import post
from training.artifacts import load_model, read_test_set
from training.features import STATES
from training.fitting import label_codes
from training.metrics import expected_calibration_error, reliability_bins
from training.prediction import Predictor, predict_table
from training.simulation import Simulation
from training.train import TrainResult

MONITORING = "/v1/models/current/monitoring"
CELL = r'data-{kind}="([^"]+)">([^<]*)<'


def _cells(html: str, kind: str) -> dict[str, str]:
    """The page's cells marked `data-<kind>="<key>"`, by key."""
    return {key: value.strip() for key, value in re.findall(CELL.format(kind=kind), html)}


def _share(value: float | None) -> str:
    return NONE if value is None else f"{100 * value:.1f}%"


def _table(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"')[1].split("</tbody>")[0].split("<tbody>")[1]
    return [re.findall(r'class="num">([^<]*)<', row) for row in body.split("<tr>")[1:]]


def test_the_page_shows_the_monitoring_report_the_api_gives(
    client: TestClient, score_key: dict[str, str], simulation: Simulation
) -> None:
    seed_changed(client, score_key, simulation, 150, more_visits=25)  # visits drift
    results = seed(client, score_key, simulation, 60, ids="w-{:04d}")
    truth = constructed_truth(results, wrong_every=4)
    now = datetime.now(UTC).isoformat()
    reports = [{"customer_id": c, "crm_state": s, "occurred_at": now} for c, s in truth.items()]
    assert post(client, reports).status_code == 200
    sign_in(client, score_key)

    html = client.get("/app/models").text  # first: the page computes the report, the API reuses it
    api = client.get(MONITORING, headers=score_key).json()
    computed = datetime.fromisoformat(api["computed_at"]).strftime("%Y-%m-%d %H:%M UTC")
    assert f'id="monitoring-computed">{computed}<' in html

    psi = _cells(html, "psi")
    expected = {
        f"{key}:{f['name']}": NONE if f["psi"] is None else f"{f['psi']:.3f}"
        for key, window in api["windows"].items()
        for f in window["features"]
    }
    assert psi == expected
    unknown = {
        f"{key}:{f['name']}": f"{f['missing_live']:.0%} ({f['missing_training']:.0%})"
        for key, window in api["windows"].items()
        for f in window["features"]
    }
    assert _cells(html, "unknown") == unknown
    assert len(psi) > 2 * 10
    assert 'class="level-drift">drift<' in html

    mix = _cells(html, "mix")
    for key, window in api["windows"].items():
        for state in STATES:
            assert mix[f"{key}:{state}"] == _share(window["state_mix"][state])
        assert _cells(html, "mix-psi")[key].startswith(f"{window['state_mix_psi']:.3f}")

    live = _cells(html, "live")
    assert api["live_quality"]["labelled"] == len(truth)
    for state, figures in api["live_quality"]["per_state"].items():
        assert live[f"precision:{state}"] == _share(figures["precision"])
        assert live[f"recall:{state}"] == _share(figures["recall"])
        assert live[f"support:{state}"] == str(figures["support"])
    _assert_live_calibration(html, api["live_quality"])

    text = unescape(html)
    assert api["retrain"]["advised"] is True
    assert "Retrain: yes." in text
    for reason in api["retrain"]["because"]:
        assert reason in text


def _assert_live_calibration(html: str, live: dict[str, Any]) -> None:
    """The page's per-state calibration table is the API's, and so is each verdict."""
    cells = _cells(unescape(html), "calibration")
    tested = live["compared_with_test"]["calibration_test"]
    judged = 0
    for state, figures in live["calibration"].items():
        assert cells[f"test:{state}"] == f"{100 * tested[state]['calibration_error']:.1f} points"
        if figures["calibration_error"] is None:
            assert cells[state] == (
                f"Too few to tell: {figures['support']} truly {state}, "
                f"{figures['expected']:.0f} by its percentages "
                f"({live['calibration_minimum']} needed)"
            )
            assert cells[f"verdict:{state}"] == NONE
            continue
        judged += 1
        assert cells[f"shown:{state}"] == _share(figures["mean_predicted"])
        assert cells[f"truly:{state}"] == _share(figures["observed_share"])
        assert cells[f"error:{state}"] == f"{100 * figures['calibration_error']:.1f} points"
        assert cells[f"chance:{state}"] == f"{100 * figures['chance_error']:.1f} points"
        verdict = "drifted from reality" if figures["drifted"] else "no drift"
        assert cells[f"verdict:{state}"] == verdict
    assert judged, "some state should have enough labelled customers to judge"


def _assert_calibration_from_test_set(html: str, registry_dir: Path, version: str) -> None:
    """The page's calibration table, chart and ECE are `reliability_bins` on the test set."""
    model = load_model(registry_dir / version)
    table = read_test_set(model.path, model.metadata)
    assert table.labels is not None
    y_true = label_codes(table.labels)
    proba = predict_table(Predictor(model), table).probabilities
    kept = [b for b in reliability_bins(y_true, proba) if b["count"] >= 20]
    assert 3 <= len(kept) < 15, "the test set should show several bins and leave some out"
    assert _table(html, "calibration") == [
        [_share(b["confidence"]), _share(b["accuracy"]), str(int(b["count"]))] for b in kept
    ]
    (diagram,) = charts_in(html)
    assert diagram.markers("bins") == len(kept)
    assert diagram.vertices("diagonal") == 2
    assert f"Reliability diagram of {len(kept)} confidence bands" in diagram.alt
    ece = expected_calibration_error(y_true, proba)
    assert f"(ECE {ece:.3f})" in html
    assert f"{ece:.3f}" == f"{model.metadata['metrics']['test']['model']['ece']:.3f}"


def test_the_calibration_table_is_reliability_bins_on_the_test_set(
    client: TestClient, score_key: dict[str, str], registry_dir: Path, trained: TrainResult
) -> None:
    sign_in(client, score_key)
    html = client.get("/app/models").text
    _assert_calibration_from_test_set(html, registry_dir, trained.version)
    metadata = json.loads((registry_dir / trained.version / "metadata.json").read_text())
    test = metadata["metrics"]["test"]["model"]
    band = f"even exact percentages would show up to {test['ece_by_chance']['p95']:.3f}"
    assert (band in html) == (test["ece"] <= test["ece_by_chance"]["p95"])


def test_the_page_reads_the_calibration_training_stored(
    client: TestClient, score_key: dict[str, str], registry_dir: Path, trained: TrainResult
) -> None:
    test_set = registry_dir / trained.version / "test_set.parquet"
    kept = test_set.read_bytes()
    test_set.unlink()  # nothing to predict: the figures can only come from the metadata
    sign_in(client, score_key)
    html = client.get("/app/models").text
    test_set.write_bytes(kept)
    _assert_calibration_from_test_set(html, registry_dir, trained.version)


def test_a_model_trained_before_the_stored_calibration_still_gets_its_diagram(
    older_model_client: TestClient,
    score_key: dict[str, str],
    registry_dir: Path,
    trained: TrainResult,
) -> None:
    sign_in(older_model_client, score_key)
    html = older_model_client.get("/app/models").text
    _assert_calibration_from_test_set(html, registry_dir, trained.version)


def test_a_fresh_database_says_plainly_that_there_is_nothing_to_monitor_yet(
    client: TestClient, score_key: dict[str, str]
) -> None:
    sign_in(client, score_key)
    text = unescape(client.get("/app/models").text)
    for days in (7, 30):
        assert f"Last {days} days: no customer scored yet" in text
    assert "has not scored a customer in the last 7 days yet" in text
    assert "Over the last 30 days: 0 labelled customers." in text
    assert "No true states yet." in text
    assert "dealnode import labels FILE" in text
    assert "Retrain: not yet." in text
    assert "only 0 customers scored in the last 7 days (drift is judged from 100)" in text
    assert 'id="drift-7"' not in text
    assert 'id="live-quality"' not in text


def test_a_model_without_a_drift_reference_says_drift_cannot_be_measured(
    old_model_client: TestClient, score_key: dict[str, str]
) -> None:
    sign_in(old_model_client, score_key)
    text = unescape(old_model_client.get("/app/models").text)
    assert "Drift cannot be measured: model" in text
    assert "retrain it (dealnode train) to enable drift checks" in text
    assert "Inputs against training" not in text
    assert 'id="calibration"' in text  # the test set is still there


def test_a_damaged_test_set_leaves_a_note_instead_of_the_calibration(
    older_model_client: TestClient,  # a newer one's page would not read its test set
    score_key: dict[str, str],
    registry_dir: Path,
    trained: TrainResult,
) -> None:
    (registry_dir / trained.version / "test_set.parquet").write_bytes(b"not parquet at all")
    sign_in(older_model_client, score_key)
    response = older_model_client.get("/app/models")
    assert response.status_code == 200
    text = unescape(response.text)
    assert 'id="calibration"' not in text
    assert f"Model {trained.version} has no readable labelled test customers" in text
