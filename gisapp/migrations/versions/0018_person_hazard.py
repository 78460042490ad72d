"""Each person's worst hazard area, kept up to date when it changes rather than overlaid per query.

The priority list (避難行動要支援者) ranks people by the worst hazard area at their residence. Under
forced row-level security PostGIS's operators cannot use the index of the residences, so overlaying
100,000 residences with 10,000 hazard polygons on every request takes about 2 s. The overlay changes
only when a residence moves or a hazard layer changes: it is stored here (a rank packed with the area
id; NULL: outside every hazard area), refreshed for the changed people by statement triggers on the
registry and in full when a hazard layer changes; the request then joins by id and only the live part
(gauges in alert nearby) is computed per request.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-21
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE restricted.person_hazard (
  person_id  bigint PRIMARY KEY REFERENCES restricted.person_needing_help(id) ON DELETE CASCADE,
  worst      bigint                       -- hazard_rank * 10^12 + hazard_area id (gisapp.ops.people._PACK); NULL: outside
);
GRANT SELECT ON restricted.person_hazard TO gisapp_rw;

-- Recompute for some people (NULL: everyone). Runs as the owner with every row in sight, whoever
-- changed the registry or a hazard layer; it writes only ids and ranks.
CREATE FUNCTION restricted.refresh_person_hazard(p_ids bigint[] DEFAULT NULL) RETURNS void
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
                  FROM gis.hazard_area hz WHERE ST_Intersects(hz.geom, p.geom))
    FROM restricted.person_needing_help p
   WHERE p_ids IS NULL OR p.id = ANY(p_ids);
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
END $f$;
REVOKE ALL ON FUNCTION restricted.refresh_person_hazard(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION restricted.refresh_person_hazard(bigint[]) TO gisapp_rw;

CREATE FUNCTION restricted.person_hazard_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
BEGIN
  PERFORM restricted.refresh_person_hazard(ARRAY(SELECT id FROM changed));
  RETURN NULL;
END $f$;
CREATE TRIGGER person_hazard_on_insert AFTER INSERT ON restricted.person_needing_help
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION restricted.person_hazard_changed();
CREATE TRIGGER person_hazard_on_update AFTER UPDATE ON restricted.person_needing_help
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION restricted.person_hazard_changed();

CREATE FUNCTION restricted.hazards_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
BEGIN
  PERFORM restricted.refresh_person_hazard(NULL);
  RETURN NULL;
END $f$;
CREATE TRIGGER person_hazard_on_hazards AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gis.hazard_area
  FOR EACH STATEMENT EXECUTE FUNCTION restricted.hazards_changed();

SELECT restricted.refresh_person_hazard(NULL);
"""

DOWNGRADE = r"""
DROP TRIGGER person_hazard_on_hazards ON gis.hazard_area;
DROP TRIGGER person_hazard_on_update ON restricted.person_needing_help;
DROP TRIGGER person_hazard_on_insert ON restricted.person_needing_help;
DROP FUNCTION restricted.hazards_changed();
DROP FUNCTION restricted.person_hazard_changed();
DROP FUNCTION restricted.refresh_person_hazard(bigint[]);
DROP TABLE restricted.person_hazard;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
