"""history days: the score history's state changes counted per UTC day, and an index on its
time, for the funnel's trend

Revision ID: 2f8a6d41c9e3
Revises: 6c1e8d3f5a27
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2f8a6d41c9e3"
down_revision: str | None = "6c1e8d3f5a27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration: the summaries start empty; the funnel page fills them the first
    time it needs a day (`app/scoring/history_days.py`)."""
    op.create_index(
        "ix_customer_score_scored_at",
        "customer_score",
        ["scored_at", "previous_state", "state"],
        unique=False,
    )
    op.create_table(
        "history_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("summarized_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_history_day")),
    )
    op.create_table(
        "history_day_move",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("previous_state", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["day"],
            ["history_day.day"],
            name=op.f("fk_history_day_move_day_history_day"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_day_move")),
    )
    op.create_index(op.f("ix_history_day_move_day"), "history_day_move", ["day"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index(op.f("ix_history_day_move_day"), table_name="history_day_move")
    op.drop_table("history_day_move")
    op.drop_table("history_day")
    op.drop_index("ix_customer_score_scored_at", table_name="customer_score")
