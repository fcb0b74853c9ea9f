"""at risk: the latest score's at-risk probability, indexed for the work queue's filter

Revision ID: 4d7a2c9e1b60
Revises: 4d7a2c9e1f60
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4d7a2c9e1b60"
down_revision: str | None = "4d7a2c9e1f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration: stored customers have no at-risk probability until rescored."""
    op.add_column("customer", sa.Column("at_risk", sa.Float(), nullable=True))
    op.create_index(
        "ix_customer_at_risk", "customer", ["at_risk", "confidence", "customer_id"], unique=False
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_customer_at_risk", table_name="customer")
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("at_risk")
