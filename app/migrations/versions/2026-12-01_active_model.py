"""active model: the one model every server process serves, set by activation

Revision ID: 8a3e61c0f5d2
Revises: 3e8b5f60a1c7
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8a3e61c0f5d2"
down_revision: str | None = "3e8b5f60a1c7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "active_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_active_model_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_model")),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("active_model")
