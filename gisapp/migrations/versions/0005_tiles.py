"""Schema for the tiles part of the layer service (owned by the tiles work; empty until it needs one).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from alembic import op  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
