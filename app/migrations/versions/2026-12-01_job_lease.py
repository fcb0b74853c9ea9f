"""job lease: the nightly run's lock expires unless its live processes renew it

Revision ID: 7c2e9a41d5b3
Revises: 5b1f0a7d2c44
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c2e9a41d5b3"
down_revision: str | None = "5b1f0a7d2c44"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.add_column("job_lock", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "job_lock",
        sa.Column("holder", sa.String(length=128), nullable=False, server_default=""),
    )
    # A lock taken before leases existed was never renewed: it counts as expired.
    op.execute("UPDATE job_lock SET expires_at = acquired_at")
    # Nothing refers to job_lock, so SQLite's batch mode may rebuild it.
    with op.batch_alter_table("job_lock") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("job_lock") as batch:
        batch.drop_column("holder")
        batch.drop_column("expires_at")
