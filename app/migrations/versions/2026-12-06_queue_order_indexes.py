"""queue order indexes: the work queue's order (most confident first, ties by id) as an index,
alone and after the next action, and the state alone for the funnel's counts

Revision ID: 6c1e8d3f5a27
Revises: 9b2f4e7a1c38
Create Date: 2026-12-06 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6c1e8d3f5a27"
down_revision: str | None = "9b2f4e7a1c38"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration: without them an unfiltered queue page sorts the whole table and
    a rare action's page walks most of it (measured on 1,000,000 customers)."""
    order: list[str | sa.TextClause] = [sa.text("confidence DESC"), "customer_id"]
    op.create_index("ix_customer_confidence", "customer", order, unique=False)
    op.create_index("ix_customer_action", "customer", ["action_code", *order], unique=False)
    op.create_index("ix_customer_state", "customer", ["state"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_customer_state", table_name="customer")
    op.drop_index("ix_customer_action", table_name="customer")
    op.drop_index("ix_customer_confidence", table_name="customer")
