"""Layer directory notifications: any change to the catalog (a layer created, deleted, published,
withdrawn, or its features changed: the revision triggers update gis.layer) is announced on the
channel ``gisapp_layers`` with an empty payload. Servers keep a small in-memory directory of the
published layers and their revisions, reloaded on each announcement, so a warm tile is served without
a database round trip. The payload is empty on purpose: the citizen-facing instance listens too, and
learns nothing from it but "reload".

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE FUNCTION gis.announce_layer_change() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_layers', '');
  RETURN NULL;
END $f$;
CREATE TRIGGER layer_announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gis.layer
  FOR EACH STATEMENT EXECUTE FUNCTION gis.announce_layer_change();
"""
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION gis.announce_layer_change() CASCADE")
