"""The public layer view says which CRS a layer's source declared (``pub.layer.source_crs``).

Every OGC API collection offers its source's CRS beside the JGD2011 ones (issue 15, item 6: a layer
imported in EPSG:6676 or JGD2000 EPSG:2450 is served in that CRS too), so the citizen-facing
instance, which reads ``pub.*`` only, must be able to read it. A CRS name is no personal data.

The view keeps its columns and conditions as 0020 left them; the new column comes last, as
``CREATE OR REPLACE VIEW`` requires. The downgrade drops the column the same way back (recreate).

Revision ID: 0036
Revises: 0028
Create Date: 2026-12-07
"""

from alembic import op

revision = "0036"
down_revision = "0028"
branch_labels = None
depends_on = None

COLUMNS = """id, slug, title_ja, title_en, kind, geometry_type, source, licence, updated_at,
         revision, description_ja, description_en"""
WHERE = "FROM gis.layer l WHERE visibility = 'public' AND l.deleted_at IS NULL"
GRANTS = """
ALTER VIEW pub.layer SET (security_barrier = false);
GRANT SELECT ON pub.layer TO gisapp_read_public, gisapp_rw;
"""


def upgrade() -> None:
    op.execute(f"CREATE OR REPLACE VIEW pub.layer AS SELECT {COLUMNS}, source_crs {WHERE};{GRANTS}")


def downgrade() -> None:
    # A column cannot leave a view by CREATE OR REPLACE: the view is made again, grants with it.
    op.execute(f"DROP VIEW pub.layer; CREATE VIEW pub.layer AS SELECT {COLUMNS} {WHERE};{GRANTS}")
