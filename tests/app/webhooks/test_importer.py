"""`dealnode import events`: a historical log lands exactly as the offline pipeline reads it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli.main import app
from app.tables import Customer
from training.features import RAW_COUNT_INPUTS, raw_inputs_from_events
from training.simulation import simulate

runner = CliRunner()


@pytest.mark.usefixtures("cli_env")
def test_import_events_matches_offline_inputs_and_reruns_safely(
    db: Session, tmp_path: Path
) -> None:
    sim = simulate(150, seed=8)
    assert sim.events is not None
    log = tmp_path / "events.csv"
    sim.events.to_csv(log, index=False)
    args = ["import", "events", str(log), "--as-of", sim.as_of.isoformat(), "--chunk", "40"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert f"imported {len(sim.events):,} new" in first.output
    again = runner.invoke(app, args)
    assert "imported 0 new" in again.output

    offline = raw_inputs_from_events(sim.events, sim.as_of)
    stored = {c.customer_id: c for c in db.scalars(select(Customer))}
    assert set(stored) == set(offline.index)
    for customer_id, row in offline.iterrows():
        customer = stored[str(customer_id)]
        assert [getattr(customer, n) for n in RAW_COUNT_INPUTS] == [
            int(row[n]) for n in RAW_COUNT_INPUTS
        ]
        assert customer.last_contact_at == pd.Timestamp(row["last_contact_at"]).to_pydatetime()
        assert customer.state is not None


@pytest.mark.usefixtures("cli_env")
def test_import_events_names_a_bad_row(db: Session, tmp_path: Path) -> None:  # noqa: ARG001
    log = tmp_path / "events.csv"
    log.write_text(
        "event_id,customer_id,type,occurred_at\n"
        "e1,c1,visit,2026-10-01T00:00:00Z\n"
        "e2,c1,call,2026-10-02T00:00:00Z\n"
    )
    result = runner.invoke(app, ["import", "events", str(log)])
    assert result.exit_code == 2
    assert "column 'type' row 2" in result.stderr


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("row", "named"),
    [
        ("e2,c1,visit,0001-01-01T00:00:00+01:00", "column 'occurred_at' row 2"),
        ("e2,c1,visit,1899-12-31T23:59:59Z", "column 'occurred_at' row 2"),
        ("e2,c/1,visit,2026-10-02T00:00:00Z", "column 'customer_id' row 2"),
    ],
)
def test_import_events_holds_ids_and_times_to_the_api_rules(
    db: Session, tmp_path: Path, row: str, named: str
) -> None:
    log = tmp_path / "events.csv"
    log.write_text(
        f"event_id,customer_id,type,occurred_at\ne1,c1,visit,2026-10-01T00:00:00Z\n{row}\n"
    )
    result = runner.invoke(app, ["import", "events", str(log)])
    assert result.exit_code == 2, result.output
    assert named in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert db.scalars(select(Customer)).first() is None
