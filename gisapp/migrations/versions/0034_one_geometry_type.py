"""One geometry type per generic layer: promote mixed single/multi layers to the Multi type.

Why: a generic layer (``gis.feature``) holding both Polygon and MultiPolygon (or LineString and
MultiLineString, Point and MultiPoint) reported ``geometryType: "Geometry"``; GDAL and QGIS type a layer
from its first page and then meet the other type, and ogr2ogr warns that the GeoPackage it writes is out
of spec. From now on the importer keeps each layer to one type (layers/importers/geometry_type.py); this
migration brings the layers stored before it to the same rule:

- a generic layer whose features are of one family with both single and multi members: its single
  features become Multi (``ST_Multi``; the same shape, the same validity) and its ``geometry_type`` the
  Multi type;
- a generic layer of one family otherwise (all single, all multi): ``geometry_type`` that type;
- a layer mixing families (points and polygons) or holding collections, and an empty layer: unchanged
  (still "Geometry"; a re-import is refused until the department splits it).

Every change bumps the layer's revision (the triggers of migration 0002), so tiles and cached answers are
made afresh.

Downgrade: ``geometry_type`` of the generic layers goes back to "Geometry", as the layers were created;
the promoted geometries stay Multi (a Polygon and a one-part MultiPolygon are the same shape; which
features were single is not recorded).

Revision ID: 0034
Revises: 0036
Create Date: 2026-12-07
"""

from alembic import op

revision = "0034"
down_revision = "0036"
branch_labels = None
depends_on = None

# The family of each stored geometry, per generic layer.
_FAMILIES = """
  SELECT f.layer_id,
         count(DISTINCT replace(GeometryType(f.geom), 'MULTI', '')) AS families,
         min(replace(GeometryType(f.geom), 'MULTI', '')) AS family,
         bool_or(left(GeometryType(f.geom), 5) = 'MULTI') AS has_multi
  FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id
  WHERE l.kind = 'generic'
  GROUP BY f.layer_id
"""

UPGRADE = f"""
WITH k AS ({_FAMILIES})
UPDATE gis.feature f SET geom = ST_Multi(f.geom)
FROM k
WHERE f.layer_id = k.layer_id AND k.families = 1 AND k.has_multi
  AND GeometryType(f.geom) IN ('POINT', 'LINESTRING', 'POLYGON');

WITH k AS ({_FAMILIES})
UPDATE gis.layer l
SET geometry_type = CASE WHEN k.has_multi THEN 'Multi' ELSE '' END
                    || CASE k.family WHEN 'POINT' THEN 'Point' WHEN 'LINESTRING' THEN 'LineString'
                                     ELSE 'Polygon' END
FROM k
WHERE l.id = k.layer_id AND k.families = 1 AND k.family IN ('POINT', 'LINESTRING', 'POLYGON');
"""  # noqa: S608 (constants only)

DOWNGRADE = """
UPDATE gis.layer SET geometry_type = 'Geometry' WHERE kind = 'generic' AND geometry_type <> 'Geometry';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
