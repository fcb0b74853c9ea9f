"""delivery lease: a worker claims a delivery before sending it

Revision ID: 3e8b5f60a1c7
Revises: 7c2e9a41d5b3
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e8b5f60a1c7"
down_revision: str | None = "7c2e9a41d5b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.add_column(
        "notification_delivery", sa.Column("claimed_by", sa.String(length=64), nullable=True)
    )
    op.add_column(
        "notification_delivery",
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_column("notification_delivery", "lease_until")
    op.drop_column("notification_delivery", "claimed_by")
