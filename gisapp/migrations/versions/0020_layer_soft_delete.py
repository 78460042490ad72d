"""Layers: soft delete with a restore window; registries protected from cascades.

- ``gis.layer.deleted_at`` / ``deleted_by``: a deleted layer stays in the database (features, import
  runs, access counts) for the restore window (``layers.manage.RESTORE_DAYS``) and vanishes from
  every read meanwhile: the catalog functions filter it, and so do the ``pub`` views here, so the
  public instance cannot see it whatever query it sends. ``gisapp layers purge`` removes it for good
  after the window.
- A cascade never removes rows the caller cannot read: referential actions run past row-level
  security, so ``DELETE FROM gis.layer`` cascaded into every person of the registry, including those
  the deleting user may not even see. ``restricted.person_needing_help → gis.layer`` and
  ``restricted.evacuation_plan → restricted.person_needing_help`` become ``ON DELETE RESTRICT``: the
  database itself refuses, and the purge deletes plans and people explicitly, under the row-level
  rule of whoever runs it. ``ops.shelter_opening → gis.shelter`` likewise: a shelter that was ever
  opened is part of the record of an operation (its check-ins refer to the opening).
  ``restricted.person_hazard`` keeps its cascade: it holds ids and ranks only, no row-level security,
  and follows a person the caller was allowed to delete.
- The worst hazard area of each person (0018) ignores deleted hazard layers, and is recomputed when
  a hazard layer is deleted or restored.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The public views as 0006 / 0015 left them; {live} is the extra condition on the layer.
VIEWS = {
    "layer": """SELECT id, slug, title_ja, title_en, kind, geometry_type, source, licence, updated_at,
         revision, description_ja, description_en
  FROM gis.layer l WHERE visibility = 'public'{live}""",
    "feature": """SELECT f.id, f.layer_id, f.properties, f.geom, f.geom_3857
  FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.visibility = 'public'{live}""",
    "road_segment": """SELECT r.id, r.layer_id, r.route_no, r.route_name, r.road_class, r.width_m, r.length_m,
         r.geom, r.attributes, r.geom_3857
  FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id WHERE l.visibility = 'public'{live}""",
    "hazard_area": """SELECT h.id, h.layer_id, h.hazard_type, h.depth_rank, h.name, h.geom, h.source_key,
         h.attributes, h.geom_3857
  FROM gis.hazard_area h JOIN gis.layer l ON l.id = h.layer_id WHERE l.visibility = 'public'{live}""",
    "shelter": """SELECT s.id, s.layer_id, s.code, s.name, s.address, s.capacity, s.is_designated_shelter,
         s.suits_flood, s.suits_landslide, s.suits_storm_surge, s.suits_earthquake, s.suits_tsunami,
         s.suits_fire, s.suits_inland_flood, s.suits_volcano, s.geom, s.attributes, s.geom_3857
  FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.visibility = 'public'{live}""",
    "sewer_pipe": """SELECT p.id, p.layer_id, p.pipe_no, p.pipe_use, p.material, p.diameter_mm, p.laid_year,
         p.length_m, p.geom, p.attributes, p.geom_3857
  FROM gis.sewer_pipe p JOIN gis.layer l ON l.id = p.layer_id WHERE l.visibility = 'public'{live}""",
    "shelter_status": """SELECT s.id AS shelter_id, o.disaster_id, s.name, s.address, s.capacity, o.occupancy,
         CASE WHEN s.capacity > 0 THEN round(o.occupancy * 100.0 / s.capacity, 1) END AS percent,
         CASE WHEN s.capacity IS NULL OR s.capacity <= 0 THEN 'unknown'
              WHEN o.occupancy * 100.0 / s.capacity < c.vacant_below THEN 'vacant'
              WHEN o.occupancy * 100.0 / s.capacity < c.moderate_below THEN 'moderate'
              WHEN o.occupancy * 100.0 / s.capacity < c.crowded_below THEN 'crowded'
              ELSE 'full' END AS level,
         (coalesce(o.last_event_at, o.opened_at) < now() - make_interval(mins => c.stale_minutes)) AS stale,
         coalesce(o.last_event_at, o.opened_at) AS updated_at, o.opened_at,
         s.suits_flood, s.suits_landslide, s.suits_storm_surge, s.suits_earthquake, s.suits_tsunami,
         s.suits_fire, s.suits_inland_flood, s.suits_volcano, s.geom
    FROM ops.shelter_opening o
    JOIN gis.shelter s ON s.id = o.shelter_id
    JOIN gis.layer l ON l.id = s.layer_id
    JOIN ops.disaster d ON d.id = o.disaster_id
    CROSS JOIN ops.congestion_setting c
   WHERE o.closed_at IS NULL AND d.closed_at IS NULL AND l.visibility = 'public'{live}""",
}
LIVE = " AND l.deleted_at IS NULL"

# (table, constraint, column, referenced) whose ON DELETE CASCADE becomes RESTRICT.
RESTRICTED_FKS = (
    ("restricted.person_needing_help", "person_needing_help_layer_id_fkey", "layer_id", "gis.layer(id)"),
    ("restricted.evacuation_plan", "evacuation_plan_person_id_fkey", "person_id",
     "restricted.person_needing_help(id)"),
    ("ops.shelter_opening", "shelter_opening_shelter_id_fkey", "shelter_id", "gis.shelter(id)"),
)  # fmt: skip


def _refresh_function(live: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION restricted.refresh_person_hazard(p_ids bigint[] DEFAULT NULL) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE
  caller_roles text := current_setting('gisapp.roles', true);
BEGIN
  PERFORM set_config('gisapp.roles', 'admin', true);
  IF p_ids IS NULL THEN
    DELETE FROM restricted.person_hazard;
  ELSE
    DELETE FROM restricted.person_hazard WHERE person_id = ANY(p_ids);
  END IF;
  INSERT INTO restricted.person_hazard (person_id, worst)
  SELECT p.id, (SELECT min(restricted.hazard_rank(hz.hazard_type, hz.depth_rank)::bigint * 1000000000000 + hz.id)
                  FROM gis.hazard_area hz JOIN gis.layer l ON l.id = hz.layer_id
                 WHERE ST_Intersects(hz.geom, p.geom){live})
    FROM restricted.person_needing_help p
   WHERE p_ids IS NULL OR p.id = ANY(p_ids);
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
END $f$;
"""  # noqa: S608 - composed of this module's constants


def _views(live: str) -> str:
    return "\n".join(
        f"CREATE OR REPLACE VIEW pub.{name} AS {body.format(live=live)};" for name, body in VIEWS.items()
    )


def _fks(action: str) -> str:
    return "\n".join(
        f"ALTER TABLE {table} DROP CONSTRAINT {name},"
        f" ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {ref} ON DELETE {action};"
        for table, name, column, ref in RESTRICTED_FKS
    )


UPGRADE = f"""
ALTER TABLE gis.layer
  ADD COLUMN deleted_at timestamptz,
  ADD COLUMN deleted_by text,
  ADD CONSTRAINT layer_deleted_by CHECK ((deleted_at IS NULL) = (deleted_by IS NULL));
CREATE INDEX layer_deleted_idx ON gis.layer (deleted_at) WHERE deleted_at IS NOT NULL;

{_views(LIVE)}

-- Counting stays possible only for layers the public can see.
CREATE OR REPLACE FUNCTION pub.count_access(layer_ids int[], hits int[]) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, gis AS $f$
  INSERT INTO gis.layer_access_daily AS a (layer_id, day, hits)
  SELECT l.id, (now() AT TIME ZONE 'Asia/Tokyo')::date, greatest(h.hits, 0)
  FROM unnest(layer_ids, hits) AS h(layer_id, hits)
  JOIN gis.layer l ON l.id = h.layer_id AND l.visibility = 'public' AND l.deleted_at IS NULL
  ON CONFLICT (layer_id, day) DO UPDATE SET hits = a.hits + EXCLUDED.hits
$f$;

{_fks("RESTRICT")}

{_refresh_function(LIVE)}
CREATE FUNCTION restricted.hazard_layer_deleted() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
BEGIN
  PERFORM restricted.refresh_person_hazard(NULL);
  RETURN NULL;
END $f$;
CREATE TRIGGER person_hazard_on_layer_delete AFTER UPDATE OF deleted_at ON gis.layer
  FOR EACH ROW WHEN (NEW.kind = 'hazard_area' AND OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
  EXECUTE FUNCTION restricted.hazard_layer_deleted();
"""  # noqa: S608 - constants only

DOWNGRADE = f"""
DROP TRIGGER person_hazard_on_layer_delete ON gis.layer;
DROP FUNCTION restricted.hazard_layer_deleted();
{_refresh_function("")}
{_fks("CASCADE")}
CREATE OR REPLACE FUNCTION pub.count_access(layer_ids int[], hits int[]) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, gis AS $f$
  INSERT INTO gis.layer_access_daily AS a (layer_id, day, hits)
  SELECT l.id, (now() AT TIME ZONE 'Asia/Tokyo')::date, greatest(h.hits, 0)
  FROM unnest(layer_ids, hits) AS h(layer_id, hits)
  JOIN gis.layer l ON l.id = h.layer_id AND l.visibility = 'public'
  ON CONFLICT (layer_id, day) DO UPDATE SET hits = a.hits + EXCLUDED.hits
$f$;
{_views("")}
DROP INDEX gis.layer_deleted_idx;
ALTER TABLE gis.layer DROP CONSTRAINT layer_deleted_by, DROP COLUMN deleted_by, DROP COLUMN deleted_at;
"""  # noqa: S608 - constants only


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
