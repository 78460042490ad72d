"""What the citizen's disaster-day page reads besides the views it had: the road closures in force on
public road layers (drawn nowhere before) and the open disasters' names (said when no 避難情報 is in
force). Both are ``pub`` views granted to the citizen-facing role like the others: no reason (an
internal note), no names of staff.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE VIEW pub.road_closure WITH (security_barrier) AS
  SELECT c.id, c.road_segment_id, r.route_name, c.closed_at, r.geom
    FROM gis.road_closure c
    JOIN gis.road_segment r ON r.id = c.road_segment_id
    JOIN gis.layer l ON l.id = r.layer_id
   WHERE c.reopened_at IS NULL AND l.visibility = 'public' AND l.deleted_at IS NULL;
CREATE VIEW pub.disaster AS
  SELECT id, name, opened_at FROM ops.disaster WHERE closed_at IS NULL;
GRANT SELECT ON pub.road_closure, pub.disaster TO gisapp_read_public, gisapp_rw;
"""

DOWNGRADE = "DROP VIEW IF EXISTS pub.road_closure, pub.disaster;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
