"""Migrations carry existing rows forward: shard keys backfilled, runs keep their cursors."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from app.migrate import alembic_config, upgrade
from app.tables import shard_key

BEFORE_SHARDS = "c9d4d8143829"


def test_upgrade_backfills_shard_keys_and_moves_run_cursors_to_shards(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, BEFORE_SHARDS)
    engine = create_engine(url)
    ids = [f"cust-{i}" for i in range(25)]
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO customer (customer_id, inputs_as_of, extras, created_at, updated_at,"
                " row_version) VALUES (:id, '2026-01-01', '{}', '2026-01-01', '2026-01-01', 1)"
            ),
            [{"id": i} for i in ids],
        )
        connection.execute(
            text(
                "INSERT INTO customer_score (customer_id, scored_at, as_of, state, confidence,"
                " probabilities, model_version, action_code, source) VALUES ('cust-3',"
                " '2026-01-01', '2026-01-01', 'intent', 0.5, '{}', 'v1', 'call', 'api')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO scoring_run (id, model_version, as_of, started_at, status, dry_run,"
                " rows_scored, state_changes, transitions, cursor) VALUES ('old-run', 'v1',"
                " '2026-01-01', '2026-01-01', 'running', 0, 7, 1, '{}', 'cust-6')"
            )
        )
    upgrade(url)
    with engine.connect() as connection:
        keys: dict[str, int] = dict(
            connection.execute(text("SELECT customer_id, shard_key FROM customer")).all()
        )
        part = connection.execute(
            text("SELECT shard, status, rows_scored, cursor FROM scoring_run_shard")
        ).one()
        shards = connection.scalar(text("SELECT shards FROM scoring_run"))
        history = connection.scalar(text("SELECT count(*) FROM customer_score"))
    assert keys == {i: shard_key(i) for i in ids}
    assert tuple(part) == (0, "running", 7, "cust-6")
    assert shards == 1
    assert history == 1  # rebuilding a table on SQLite would have cascaded to the history
    command.downgrade(alembic_config(url), BEFORE_SHARDS)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT cursor FROM scoring_run")) == "cust-6"
    engine.dispose()
