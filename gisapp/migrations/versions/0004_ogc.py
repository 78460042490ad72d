"""Public views without security_barrier, so spatial filters reach the GiST indexes.

A security_barrier view evaluates the caller's conditions only after its own, and PostGIS's `&&` is
not LEAKPROOF, so on the public instance every bbox or tile query scanned the whole layer. The barrier
guards against leaky functions of the caller's own; the public role cannot define any (no CREATE on
any schema, no TEMP on the database: tests/test_db_roles.py checks both) and sends bound parameters
only, so the views' `visibility = 'public'` filter keeps its meaning without it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VIEWS = ("pub.layer", "pub.feature", "pub.road_segment", "pub.hazard_area", "pub.shelter", "pub.sewer_pipe")


def upgrade() -> None:
    for view in VIEWS:
        op.execute(f"ALTER VIEW {view} SET (security_barrier = false)")


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"ALTER VIEW {view} SET (security_barrier = true)")
