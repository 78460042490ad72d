"""Dead letters reviewed on the HQ/admin screen.

Placeholder for issue 10 (filled by the work that follows).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
