"""Layer service base: layer revisions (cache keys, bumped by triggers on every feature change),
the typed sewer ledger, extra source attributes on typed layers, keys for re-import, daily access
counts of public layers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FEATURE_TABLES = ("gis.feature", "gis.road_segment", "gis.hazard_area", "gis.shelter", "gis.sewer_pipe")

UPGRADE = r"""
ALTER TABLE gis.layer
  ADD COLUMN revision bigint NOT NULL DEFAULT 1,
  ADD COLUMN description_ja text NOT NULL DEFAULT '',
  ADD COLUMN description_en text NOT NULL DEFAULT '';
ALTER TABLE gis.layer DROP CONSTRAINT layer_kind_check;
ALTER TABLE gis.layer ADD CONSTRAINT layer_kind_check CHECK (kind IN
  ('generic', 'road_segment', 'hazard_area', 'shelter', 'sewer_pipe', 'person_needing_help'));

-- Source columns a typed layer does not model are kept, so an export can give back what came in.
ALTER TABLE gis.road_segment ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE gis.shelter ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE gis.hazard_area
  ADD COLUMN source_key text,
  ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}',
  ADD CONSTRAINT hazard_area_layer_source_key UNIQUE (layer_id, source_key);

-- 下水道台帳 sewer ledger
CREATE TABLE gis.sewer_pipe (
  id                      bigserial PRIMARY KEY,
  layer_id                int NOT NULL REFERENCES gis.layer(id) ON DELETE CASCADE,
  pipe_no                 text NOT NULL,          -- 管渠番号
  pipe_use                text NOT NULL DEFAULT '' CHECK (pipe_use IN ('', '汚水', '雨水', '合流')),  -- 排除方式
  material                text NOT NULL DEFAULT '',  -- 管種 (VU, HP, …)
  diameter_mm             int CHECK (diameter_mm > 0),   -- 管径
  laid_year               int CHECK (laid_year BETWEEN 1868 AND 2200),  -- 布設年度 (西暦)
  length_m                numeric(9, 1),          -- 延長 (from geography)
  managing_department_id  int REFERENCES core.department(id),
  attributes              jsonb NOT NULL DEFAULT '{}',
  geom                    geometry(MultiLineString, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  UNIQUE (layer_id, pipe_no)
);
CREATE INDEX sewer_pipe_geom_idx ON gis.sewer_pipe USING gist (geom);
GRANT SELECT, INSERT, UPDATE, DELETE ON gis.sewer_pipe TO gisapp_rw;
GRANT USAGE, SELECT ON SEQUENCE gis.sewer_pipe_id_seq TO gisapp_rw;

-- Layer revision: every change to a layer's features bumps it (cache keys, ETags) and tells the
-- servers over NOTIFY so their caches drop the layer's tiles.
CREATE FUNCTION gis.bump_layer_revision() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  changed int[];
BEGIN
  IF TG_OP = 'DELETE' THEN
    SELECT array_agg(DISTINCT layer_id) INTO changed FROM old_rows;
  ELSE
    SELECT array_agg(DISTINCT layer_id) INTO changed FROM new_rows;
  END IF;
  IF changed IS NOT NULL THEN
    PERFORM gis.touch_layers(changed);
  END IF;
  RETURN NULL;
END $f$;

CREATE FUNCTION gis.touch_layers(layer_ids int[]) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  r record;
BEGIN
  FOR r IN UPDATE gis.layer SET revision = revision + 1, updated_at = now()
           WHERE id = ANY(layer_ids) RETURNING id, revision LOOP
    PERFORM pg_notify('gisapp_events', json_build_object(
      'type', 'layer_changed', 'layer_id', r.id, 'revision', r.revision)::text);
  END LOOP;
END $f$;
GRANT EXECUTE ON FUNCTION gis.touch_layers(int[]) TO gisapp_rw;

-- Published layers as the public instance sees them, plus the sewer ledger.
CREATE OR REPLACE VIEW pub.layer WITH (security_barrier) AS
  SELECT id, slug, title_ja, title_en, kind, geometry_type, source, licence, updated_at,
         revision, description_ja, description_en
  FROM gis.layer WHERE visibility = 'public';

CREATE OR REPLACE VIEW pub.road_segment WITH (security_barrier) AS
  SELECT r.id, r.layer_id, r.route_no, r.route_name, r.road_class, r.width_m, r.length_m, r.geom,
         r.attributes
  FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id WHERE l.visibility = 'public';

CREATE OR REPLACE VIEW pub.hazard_area WITH (security_barrier) AS
  SELECT h.id, h.layer_id, h.hazard_type, h.depth_rank, h.name, h.geom, h.source_key, h.attributes
  FROM gis.hazard_area h JOIN gis.layer l ON l.id = h.layer_id WHERE l.visibility = 'public';

CREATE OR REPLACE VIEW pub.shelter WITH (security_barrier) AS
  SELECT s.id, s.layer_id, s.code, s.name, s.address, s.capacity, s.is_designated_shelter,
         s.suits_flood, s.suits_landslide, s.suits_storm_surge, s.suits_earthquake, s.suits_tsunami,
         s.suits_fire, s.suits_inland_flood, s.suits_volcano, s.geom, s.attributes
  FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.visibility = 'public';

CREATE VIEW pub.sewer_pipe WITH (security_barrier) AS
  SELECT p.id, p.layer_id, p.pipe_no, p.pipe_use, p.material, p.diameter_mm, p.laid_year, p.length_m,
         p.geom, p.attributes
  FROM gis.sewer_pipe p JOIN gis.layer l ON l.id = p.layer_id WHERE l.visibility = 'public';

-- Public-GIS access counts (a KPI the cities report): per layer per day, nothing about the visitor.
CREATE TABLE gis.layer_access_daily (
  layer_id  int NOT NULL REFERENCES gis.layer(id) ON DELETE CASCADE,
  day       date NOT NULL,
  hits      bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (layer_id, day)
);
GRANT SELECT, INSERT, UPDATE ON gis.layer_access_daily TO gisapp_rw;

-- The public instance can count, and nothing else: a definer function, callable only for published
-- layers, is its one way to write.
CREATE FUNCTION pub.count_access(layer_ids int[], hits int[]) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, gis AS $f$
  INSERT INTO gis.layer_access_daily AS a (layer_id, day, hits)
  SELECT l.id, (now() AT TIME ZONE 'Asia/Tokyo')::date, greatest(h.hits, 0)
  FROM unnest(layer_ids, hits) AS h(layer_id, hits)
  JOIN gis.layer l ON l.id = h.layer_id AND l.visibility = 'public'
  ON CONFLICT (layer_id, day) DO UPDATE SET hits = a.hits + EXCLUDED.hits
$f$;
REVOKE ALL ON FUNCTION pub.count_access(int[], int[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pub.count_access(int[], int[]) TO gisapp_read_public, gisapp_rw;

GRANT SELECT ON ALL TABLES IN SCHEMA pub TO gisapp_read_public, gisapp_rw;
"""


def _revision_triggers(create: bool) -> str:
    out = []
    for table in FEATURE_TABLES:
        name = table.split(".")[1]
        for op_, ref in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            trig = f"{name}_revision_{op_.lower()}"
            if create:
                out.append(
                    f"CREATE TRIGGER {trig} AFTER {op_} ON {table} REFERENCING {ref} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION gis.bump_layer_revision();"
                )
            else:
                out.append(f"DROP TRIGGER IF EXISTS {trig} ON {table};")
    return "\n".join(out)


DOWNGRADE = r"""
DROP FUNCTION pub.count_access(int[], int[]);
DROP TABLE gis.layer_access_daily;
DROP VIEW pub.sewer_pipe;
DROP VIEW pub.shelter;
DROP VIEW pub.hazard_area;
DROP VIEW pub.road_segment;
DROP VIEW pub.layer;
CREATE VIEW pub.layer WITH (security_barrier) AS
  SELECT id, slug, title_ja, title_en, kind, geometry_type, source, licence, updated_at
  FROM gis.layer WHERE visibility = 'public';
CREATE VIEW pub.road_segment WITH (security_barrier) AS
  SELECT r.id, r.layer_id, r.route_no, r.route_name, r.road_class, r.width_m, r.length_m, r.geom
  FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id WHERE l.visibility = 'public';
CREATE VIEW pub.hazard_area WITH (security_barrier) AS
  SELECT h.id, h.layer_id, h.hazard_type, h.depth_rank, h.name, h.geom
  FROM gis.hazard_area h JOIN gis.layer l ON l.id = h.layer_id WHERE l.visibility = 'public';
CREATE VIEW pub.shelter WITH (security_barrier) AS
  SELECT s.id, s.layer_id, s.code, s.name, s.address, s.capacity, s.is_designated_shelter,
         s.suits_flood, s.suits_landslide, s.suits_storm_surge, s.suits_earthquake, s.suits_tsunami,
         s.suits_fire, s.suits_inland_flood, s.suits_volcano, s.geom
  FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.visibility = 'public';
GRANT SELECT ON ALL TABLES IN SCHEMA pub TO gisapp_read_public, gisapp_rw;
DROP FUNCTION gis.bump_layer_revision() CASCADE;
DROP FUNCTION gis.touch_layers(int[]);
DROP TABLE gis.sewer_pipe;
ALTER TABLE gis.hazard_area DROP CONSTRAINT hazard_area_layer_source_key,
  DROP COLUMN source_key, DROP COLUMN attributes;
ALTER TABLE gis.shelter DROP COLUMN attributes;
ALTER TABLE gis.road_segment DROP COLUMN attributes;
DELETE FROM gis.layer WHERE kind = 'sewer_pipe';
ALTER TABLE gis.layer DROP CONSTRAINT layer_kind_check;
ALTER TABLE gis.layer ADD CONSTRAINT layer_kind_check CHECK (kind IN
  ('generic', 'road_segment', 'hazard_area', 'shelter', 'person_needing_help'));
ALTER TABLE gis.layer DROP COLUMN revision, DROP COLUMN description_ja, DROP COLUMN description_en;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    op.execute(_revision_triggers(create=True))


def downgrade() -> None:
    op.execute(_revision_triggers(create=False))
    op.execute(DOWNGRADE)
