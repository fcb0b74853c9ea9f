"""`dealnode rescore` as an operator runs it: the transition matrix, each failure in one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.tables import JobLock
from tests.app.seeding import seed
from training.simulation import Simulation


@pytest.mark.usefixtures("cli_env")
def test_rescore_cli_prints_the_matrix_and_fails_in_one_line(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    db: Session,
) -> None:
    from typer.testing import CliRunner

    from app.cli.main import app

    seed(client, score_key, simulation, 12)
    runner = CliRunner()
    ok = runner.invoke(app, ["rescore", "--chunk-size", "5"])
    assert ok.exit_code == 0, ok.output
    assert "12 customers" in ok.output
    now = datetime.now(UTC)
    until = now + timedelta(hours=1)
    db.add(JobLock(name="rescore", run_id="cafe", acquired_at=now, expires_at=until))
    db.commit()
    unknown = runner.invoke(app, ["rescore", "--model", "1999-01-01_nope"])
    assert unknown.exit_code == 2
    assert "1999-01-01_nope" in unknown.stderr
    for bad in (["--shard", "3/3", "--run", "x"], ["--shard", "0/2"]):
        usage = runner.invoke(app, ["rescore", *bad])
        assert usage.exit_code == 2, usage.output
        assert len(usage.stderr.strip().splitlines()) == 1
        assert "shard" in usage.stderr or "--run" in usage.stderr
    refused = runner.invoke(app, ["rescore"])
    assert refused.exit_code == 1
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "cafe is in progress" in refused.stderr
