"""rescore shards: a stable shard key per customer, a row per shard of a run

Revision ID: 5b1f0a7d2c44
Revises: c9d4d8143829
Create Date: 2026-11-24 23:10:00
"""

import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1f0a7d2c44"
down_revision: str | None = "c9d4d8143829"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_CHUNK = 10_000


def upgrade() -> None:
    """Apply this migration."""
    op.add_column("customer", sa.Column("shard_key", sa.Integer(), nullable=True))
    _backfill_shard_keys()
    # No batch mode on SQLite here or below: it rebuilds the table, and dropping the old one
    # cascades (foreign keys are on) to every customer's score history. SQLite keeps the
    # column nullable; the application always sets it.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("customer", "shard_key", existing_type=sa.Integer(), nullable=False)
    op.create_table(
        "scoring_run_shard",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_scored", sa.Integer(), nullable=False),
        sa.Column("state_changes", sa.Integer(), nullable=False),
        sa.Column("transitions", sa.JSON(), nullable=False),
        sa.Column("cursor", sa.String(length=128), nullable=True),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["scoring_run.id"],
            name=op.f("fk_scoring_run_shard_run_id_scoring_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "shard", name=op.f("pk_scoring_run_shard")),
    )
    # Runs from before shards were one shard each: keep their cursors so --resume still works.
    op.execute(
        "INSERT INTO scoring_run_shard (run_id, shard, owner, status, started_at, finished_at,"
        " rows_scored, state_changes, transitions, cursor, error)"
        " SELECT id, 0, '', status, started_at, finished_at, rows_scored, state_changes,"
        " transitions, cursor, error FROM scoring_run"
    )
    op.add_column(
        "scoring_run", sa.Column("shards", sa.Integer(), nullable=False, server_default="1")
    )
    op.execute("ALTER TABLE scoring_run DROP COLUMN cursor")  # native on SQLite >= 3.35


def downgrade() -> None:
    """Revert this migration."""
    op.add_column("scoring_run", sa.Column("cursor", sa.String(length=128), nullable=True))
    op.execute(
        "UPDATE scoring_run SET cursor = (SELECT s.cursor FROM scoring_run_shard s"
        " WHERE s.run_id = scoring_run.id AND s.shard = 0)"
    )
    op.drop_table("scoring_run_shard")
    op.execute("ALTER TABLE scoring_run DROP COLUMN shards")
    op.execute("ALTER TABLE customer DROP COLUMN shard_key")


def _backfill_shard_keys() -> None:
    """The same CRC-32 key as `app.tables.shard_key`, computed here so the migration stays
    valid whatever the application code becomes."""
    connection = op.get_bind()
    customer = sa.table("customer", sa.column("customer_id", sa.String), sa.column("shard_key"))
    after = ""
    while True:
        ids = connection.scalars(
            sa.select(customer.c.customer_id)
            .where(customer.c.customer_id > after)
            .order_by(customer.c.customer_id)
            .limit(BACKFILL_CHUNK)
        ).all()
        if not ids:
            return
        connection.execute(
            customer.update()
            .where(customer.c.customer_id == sa.bindparam("id"))
            .values(shard_key=sa.bindparam("key")),
            [{"id": i, "key": zlib.crc32(i.encode()) & 0x7FFFFFFF} for i in ids],
        )
        after = ids[-1]
