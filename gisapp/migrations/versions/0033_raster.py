"""Raster layers (航空写真・オルソ画像): ``gis.raster`` and the ``pub.raster`` view.

A raster is a Cloud-Optimized GeoTIFF under the data directory (``<data_dir>/rasters/<sha256>.tif``);
the database keeps its catalogue entry: slug, titles, the same three visibility levels as a vector
layer (public / internal / restricted), the owner department, the file's name and sha256 (the tiles'
ETag), its source CRS, size, bands and lon/lat bounds. A table of its own rather than rows of
``gis.layer`` with a new kind: every reader of ``gis.layer`` (OGC items, MVT tiles, exports, imports,
deletion, the public layer list) assumes features, and none of them has to learn to skip rasters.

- ``pub.raster``: the published, not deleted rasters, the only ones the citizen-facing role can find
  (it has no grant on ``gis.raster``); the public instance resolves a raster only through it, so a
  code path asking for an internal raster there finds nothing.
- Soft delete (``deleted_at`` / ``deleted_by``) like ``gis.layer`` (0020): gone from every read,
  the file kept.
- A raster's slug is an OGC collection id beside the vector layers' slugs: the domain refuses a slug
  a layer already has (``layers.raster.store``).

Revision ID: 0033
Revises: 0034
Create Date: 2026-12-07
"""

from alembic import op

revision = "0033"
down_revision = "0034"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE gis.raster (
  id                  serial PRIMARY KEY,
  slug                text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  title_ja            text NOT NULL CHECK (length(btrim(title_ja)) BETWEEN 1 AND 200),
  title_en            text NOT NULL DEFAULT '' CHECK (length(title_en) <= 200),
  description_ja      text NOT NULL DEFAULT '' CHECK (length(description_ja) <= 2000),
  description_en      text NOT NULL DEFAULT '' CHECK (length(description_en) <= 2000),
  source              text NOT NULL DEFAULT '' CHECK (length(source) <= 500),
  licence             text NOT NULL DEFAULT '' CHECK (length(licence) <= 500),
  visibility          text NOT NULL DEFAULT 'internal' CHECK (visibility IN ('public', 'internal', 'restricted')),
  owner_department_id int NOT NULL REFERENCES core.department(id),
  file_name           text NOT NULL CHECK (file_name ~ '^[0-9a-f]{64}\.tif$'),
  sha256              text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  bytes               bigint NOT NULL CHECK (bytes > 0),
  source_name         text NOT NULL DEFAULT '',
  source_crs          text NOT NULL,
  width               int NOT NULL CHECK (width > 0),
  height              int NOT NULL CHECK (height > 0),
  band_count          int NOT NULL CHECK (band_count IN (1, 3, 4)),
  dtype               text NOT NULL,
  -- lon/lat (CRS84) bounds of the data
  west                double precision NOT NULL CHECK (west BETWEEN -180 AND 180),
  south               double precision NOT NULL CHECK (south BETWEEN -90 AND 90),
  east                double precision NOT NULL CHECK (east BETWEEN -180 AND 180),
  north               double precision NOT NULL CHECK (north BETWEEN -90 AND 90),
  minzoom             int NOT NULL CHECK (minzoom BETWEEN 0 AND 24),
  maxzoom             int NOT NULL CHECK (maxzoom BETWEEN 0 AND 24),
  created_at          timestamptz NOT NULL DEFAULT now(),
  created_by          text NOT NULL,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz,
  deleted_by          text,
  CHECK (west < east AND south < north AND minzoom <= maxzoom),
  CHECK ((deleted_at IS NULL) = (deleted_by IS NULL))
);

CREATE VIEW pub.raster WITH (security_barrier) AS
  SELECT id, slug, title_ja, title_en, description_ja, description_en, source, licence, file_name, sha256,
         width, height, band_count, west, south, east, north, minzoom, maxzoom, updated_at
  FROM gis.raster WHERE visibility = 'public' AND deleted_at IS NULL;

GRANT SELECT, INSERT, UPDATE ON gis.raster TO gisapp_rw;
GRANT USAGE, SELECT ON SEQUENCE gis.raster_id_seq TO gisapp_rw;
GRANT SELECT ON pub.raster TO gisapp_rw, gisapp_read_public;
"""

DOWNGRADE = r"""
DROP VIEW pub.raster;
DROP TABLE gis.raster;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
