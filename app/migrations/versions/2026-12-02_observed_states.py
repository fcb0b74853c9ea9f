"""observed states: true states from the CRM and labelled files, for live quality

Revision ID: 4d7a2c9e1f60
Revises: 8a3e61c0f5d2
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4d7a2c9e1f60"
down_revision: str | None = "8a3e61c0f5d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "observed_state",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observed_state")),
        sa.UniqueConstraint(
            "customer_id", "source", "observed_at", name=op.f("uq_observed_state_customer_id")
        ),
    )
    op.create_index(
        op.f("ix_observed_state_observed_at"), "observed_state", ["observed_at"], unique=False
    )
    # Monitoring reads the customers scored most recently; an index, not a scan.
    op.create_index("ix_customer_scored_at", "customer", ["scored_at"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_customer_scored_at", table_name="customer")
    op.drop_index(op.f("ix_observed_state_observed_at"), table_name="observed_state")
    op.drop_table("observed_state")
