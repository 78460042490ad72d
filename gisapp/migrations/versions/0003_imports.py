"""Layer imports: one row per import run (what came in, from whom, what was repaired or refused).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE gis.import_run (
  id             bigserial PRIMARY KEY,
  layer_id       int NOT NULL REFERENCES gis.layer(id) ON DELETE CASCADE,
  source_name    text NOT NULL,                 -- the uploaded file's name
  source_sha256  text NOT NULL CHECK (source_sha256 ~ '^[0-9a-f]{64}$'),
  source_bytes   bigint NOT NULL CHECK (source_bytes >= 0),
  format         text NOT NULL,                 -- geojson, shapefile, gpkg, citygml, shelter_csv, osm
  mode           text NOT NULL CHECK (mode IN ('upsert', 'replace')),
  source_crs     text,                          -- as the file declared it, e.g. EPSG:6697
  encoding       text,                          -- of CSV / DBF text
  actor          text NOT NULL,                 -- username, or 'cli:<os user>'
  started_at     timestamptz NOT NULL,
  finished_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  status         text NOT NULL CHECK (status IN ('succeeded', 'rejected')),  -- 取込済 / 取込拒否
  counts         jsonb NOT NULL DEFAULT '{}',   -- read, inserted, updated, unchanged, deleted
  repaired       jsonb NOT NULL DEFAULT '[]',   -- [{row, key, reason_ja, reason_en}]
  rejected       jsonb NOT NULL DEFAULT '[]',   -- [{row, reason_ja, reason_en}], or the file's reason
  notes          jsonb NOT NULL DEFAULT '[]'    -- e.g. heights dropped, encoding used
);
CREATE INDEX import_run_layer_idx ON gis.import_run (layer_id, started_at DESC);
GRANT SELECT, INSERT ON gis.import_run TO gisapp_rw;
GRANT USAGE, SELECT ON SEQUENCE gis.import_run_id_seq TO gisapp_rw;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP TABLE gis.import_run")
