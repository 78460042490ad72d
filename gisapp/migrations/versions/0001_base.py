"""Base model: departments, users and sessions, layer catalog, domain layers of the demo, devices,
radio positions, dead letters, the append-only audit log, the public views and the grants.

Privileges (defence in depth):
- ``gisapp_rw`` (internal API, ingest): DML on the working schemas, INSERT/SELECT only on audit.
- ``gisapp_read_public`` (citizen-facing instance): USAGE on schema ``pub`` only, SELECT on its views,
  which show published layers only. It has no grant on any table, so even a buggy query fails.
- ``restricted`` tables have row-level security, FORCEd, keyed on the transaction's ``gisapp.roles``.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROLES = ("staff", "hq_operator", "welfare", "admin")

UPGRADE = r"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gisapp_rw') THEN CREATE ROLE gisapp_rw NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gisapp_read_public') THEN
    CREATE ROLE gisapp_read_public NOLOGIN;
  END IF;
END $$;

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA core;
CREATE SCHEMA gis;
CREATE SCHEMA sensor;
CREATE SCHEMA ingest;
CREATE SCHEMA restricted;
CREATE SCHEMA audit;
CREATE SCHEMA pub;

-- ------------------------------------------------------------------ core
CREATE TABLE core.department (
  id          serial PRIMARY KEY,
  code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{1,40}$'),
  name_ja     text NOT NULL,
  name_en     text NOT NULL
);

CREATE TABLE core.app_user (
  id            serial PRIMARY KEY,
  username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
  display_name  text NOT NULL,
  department_id int REFERENCES core.department(id),
  roles         text[] NOT NULL DEFAULT '{}'
                CHECK (roles <@ ARRAY['staff','hq_operator','welfare','admin']::text[]),
  password_hash text NOT NULL,
  is_active     boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Opaque session tokens (cookie for pages, bearer for the API); only their SHA-256 is stored.
CREATE TABLE core.auth_session (
  token_hash  bytea PRIMARY KEY,
  user_id     int NOT NULL REFERENCES core.app_user(id) ON DELETE CASCADE,
  kind        text NOT NULL CHECK (kind IN ('cookie', 'bearer')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz
);
CREATE INDEX auth_session_user_idx ON core.auth_session (user_id);

-- ------------------------------------------------------------------- gis
CREATE TABLE gis.layer (
  id                  serial PRIMARY KEY,
  slug                text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  title_ja            text NOT NULL,
  title_en            text NOT NULL,
  owner_department_id int NOT NULL REFERENCES core.department(id),
  visibility          text NOT NULL CHECK (visibility IN ('public', 'internal', 'restricted')),
  kind                text NOT NULL DEFAULT 'generic'
                      CHECK (kind IN ('generic', 'road_segment', 'hazard_area', 'shelter',
                                      'person_needing_help')),
  geometry_type       text NOT NULL CHECK (geometry_type IN ('Point', 'LineString', 'Polygon',
                        'MultiPoint', 'MultiLineString', 'MultiPolygon', 'Geometry')),
  source              text NOT NULL DEFAULT '',
  licence             text NOT NULL DEFAULT '',
  source_crs          text NOT NULL DEFAULT 'EPSG:4326',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  -- The people-needing-help layer can never be published.
  CHECK (kind <> 'person_needing_help' OR visibility = 'restricted')
);

-- Department layers of any shape: attributes as JSONB.
CREATE TABLE gis.feature (
  id          bigserial PRIMARY KEY,
  layer_id    int NOT NULL REFERENCES gis.layer(id) ON DELETE CASCADE,
  source_key  text,
  properties  jsonb NOT NULL DEFAULT '{}',
  geom        geometry(Geometry, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  UNIQUE (layer_id, source_key)
);
CREATE INDEX feature_geom_idx ON gis.feature USING gist (geom);

-- 道路台帳 road ledger
CREATE TABLE gis.road_segment (
  id                      bigserial PRIMARY KEY,
  layer_id                int NOT NULL REFERENCES gis.layer(id) ON DELETE CASCADE,
  route_no                text NOT NULL,          -- 路線番号
  route_name              text NOT NULL,          -- 路線名
  road_class              text NOT NULL,          -- 種別 (1級, 2級, その他 …)
  width_m                 numeric(5, 1) CHECK (width_m > 0),          -- 幅員
  length_m                numeric(9, 1),                              -- 延長 (from geography)
  managing_department_id  int REFERENCES core.department(id),         -- 管理課
  geom                    geometry(MultiLineString, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  UNIQUE (layer_id, route_no)
);
CREATE INDEX road_segment_geom_idx ON gis.road_segment USING gist (geom);

-- 土砂災害警戒区域 / 特別警戒区域, 洪水・内水浸水想定区域
CREATE TABLE gis.hazard_area (
  id           bigserial PRIMARY KEY,
  layer_id     int NOT NULL REFERENCES gis.layer(id) ON DELETE CASCADE,
  hazard_type  text NOT NULL CHECK (hazard_type IN (
                 'landslide_warning',   -- 土砂災害警戒区域
                 'landslide_special',   -- 土砂災害特別警戒区域
                 'flood',               -- 洪水浸水想定区域
                 'inland_flood')),      -- 内水浸水想定区域
  depth_rank   text,                    -- 浸水深ランク e.g. '0.5m未満', '0.5-3.0m'
  name         text NOT NULL DEFAULT '',
  geom         geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX hazard_area_geom_idx ON gis.hazard_area USING gist (geom);

-- 指定緊急避難場所・指定避難所
CREATE TABLE gis.shelter (
  id             bigserial PRIMARY KEY,
  layer_id       int NOT NULL REFERENCES gis.layer(id) ON DELETE CASCADE,
  code           text NOT NULL,
  name           text NOT NULL,
  address        text NOT NULL DEFAULT '',
  capacity       int CHECK (capacity >= 0),      -- 想定収容人数
  is_designated_shelter boolean NOT NULL DEFAULT false,  -- 指定避難所
  suits_flood        boolean NOT NULL DEFAULT false,  -- 洪水
  suits_landslide    boolean NOT NULL DEFAULT false,  -- 崖崩れ、土石流及び地滑り
  suits_storm_surge  boolean NOT NULL DEFAULT false,  -- 高潮
  suits_earthquake   boolean NOT NULL DEFAULT false,  -- 地震
  suits_tsunami      boolean NOT NULL DEFAULT false,  -- 津波
  suits_fire         boolean NOT NULL DEFAULT false,  -- 大規模な火事
  suits_inland_flood boolean NOT NULL DEFAULT false,  -- 内水氾濫
  suits_volcano      boolean NOT NULL DEFAULT false,  -- 火山現象
  geom           geometry(Point, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  UNIQUE (layer_id, code)
);
CREATE INDEX shelter_geom_idx ON gis.shelter USING gist (geom);

-- ---------------------------------------------------------- restricted
-- 避難行動要支援者: readable only in a transaction whose gisapp.roles names welfare or admin.
CREATE FUNCTION restricted.may_access() RETURNS boolean LANGUAGE sql STABLE AS $f$
  SELECT string_to_array(coalesce(current_setting('gisapp.roles', true), ''), ',')
         && ARRAY['welfare', 'admin']
$f$;

CREATE TABLE restricted.person_needing_help (
  id               bigserial PRIMARY KEY,
  layer_id         int NOT NULL REFERENCES gis.layer(id) ON DELETE CASCADE,
  external_id      text NOT NULL,
  name             text NOT NULL,
  name_kana        text NOT NULL DEFAULT '',
  birth_year       int,
  phone            text NOT NULL DEFAULT '',
  address          text NOT NULL DEFAULT '',
  care_category    text NOT NULL,         -- e.g. 要介護3, 身体障害, 独居高齢者
  consent          boolean NOT NULL DEFAULT false,  -- 同意 to share with support persons
  support_persons  jsonb NOT NULL DEFAULT '[]',
  geom             geometry(Point, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (layer_id, external_id)
);
CREATE INDEX person_needing_help_geom_idx ON restricted.person_needing_help USING gist (geom);
ALTER TABLE restricted.person_needing_help ENABLE ROW LEVEL SECURITY;
ALTER TABLE restricted.person_needing_help FORCE ROW LEVEL SECURITY;
CREATE POLICY person_needing_help_access ON restricted.person_needing_help
  USING (restricted.may_access()) WITH CHECK (restricted.may_access());

-- --------------------------------------------------------------- sensor
CREATE TABLE sensor.device (
  id                  text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  kind                text NOT NULL CHECK (kind IN ('radio_unit', 'rain_gauge', 'water_gauge')),
  name                text NOT NULL,
  owner_department_id int REFERENCES core.department(id),
  location            geometry(Point, 4326) CHECK (location IS NULL OR ST_IsValid(location)),
  thresholds          jsonb NOT NULL DEFAULT '{}',
  mqtt_password_hash  text NOT NULL,
  enabled             boolean NOT NULL DEFAULT true,
  created_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (kind = 'radio_unit' OR location IS NOT NULL)   -- gauges are fixed
);

CREATE TABLE sensor.radio_position (
  device_id    text NOT NULL REFERENCES sensor.device(id) ON DELETE CASCADE,
  device_ts    timestamptz NOT NULL,       -- the device's own timestamp, never "now"
  received_at  timestamptz NOT NULL DEFAULT now(),
  geom         geometry(Point, 4326) NOT NULL,
  accuracy_m   real,
  altitude_m   real,
  battery_pct  smallint CHECK (battery_pct BETWEEN 0 AND 100),
  speed_kmh    real,
  course_deg   real,
  PRIMARY KEY (device_id, device_ts)      -- redelivery is idempotent
);

CREATE FUNCTION sensor.notify_radio_position() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'radio_position', 'device_id', NEW.device_id,
    'lon', ST_X(NEW.geom), 'lat', ST_Y(NEW.geom), 'device_ts', NEW.device_ts)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER radio_position_notify AFTER INSERT ON sensor.radio_position
  FOR EACH ROW EXECUTE FUNCTION sensor.notify_radio_position();

-- --------------------------------------------------------------- ingest
CREATE TABLE ingest.dead_letter (
  id              bigserial PRIMARY KEY,
  received_at     timestamptz NOT NULL DEFAULT now(),
  topic           text NOT NULL,
  payload         bytea NOT NULL,          -- first 4 KiB only
  payload_size    int NOT NULL,
  payload_sha256  bytea NOT NULL,
  reason_code     text NOT NULL,
  reason          text NOT NULL
);
CREATE INDEX dead_letter_received_idx ON ingest.dead_letter (received_at);

-- ---------------------------------------------------------------- audit
CREATE TABLE audit.log (
  id       bigserial PRIMARY KEY,
  at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor    text NOT NULL,           -- username, 'system', or 'anonymous'
  action   text NOT NULL,           -- e.g. 'auth.login', 'layer.publish'
  target   text NOT NULL DEFAULT '',
  details  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit.log (at);
CREATE FUNCTION audit.reject_change() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION 'audit.log is append-only (監査ログは追記のみ)';
END $f$;
CREATE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON audit.log
  FOR EACH ROW EXECUTE FUNCTION audit.reject_change();
CREATE TRIGGER log_no_truncate BEFORE TRUNCATE ON audit.log
  FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_change();

-- ------------------------------------------------------- public views
-- Views run with their owner's rights, so gisapp_read_public needs no grant on any table.
CREATE VIEW pub.layer WITH (security_barrier) AS
  SELECT id, slug, title_ja, title_en, kind, geometry_type, source, licence, updated_at
  FROM gis.layer WHERE visibility = 'public';

CREATE VIEW pub.feature WITH (security_barrier) AS
  SELECT f.id, f.layer_id, f.properties, f.geom
  FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.visibility = 'public';

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

-- ---------------------------------------------------------------- grants
REVOKE ALL ON SCHEMA core, gis, sensor, ingest, restricted, audit, pub FROM PUBLIC;

GRANT USAGE ON SCHEMA core, gis, sensor, ingest, restricted, audit, pub TO gisapp_rw;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA core, gis, sensor, ingest, restricted
  TO gisapp_rw;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA core, gis, sensor, ingest, restricted, audit TO gisapp_rw;
GRANT SELECT, INSERT ON audit.log TO gisapp_rw;
GRANT SELECT ON ALL TABLES IN SCHEMA pub TO gisapp_rw;
GRANT EXECUTE ON FUNCTION restricted.may_access() TO gisapp_rw;

GRANT USAGE ON SCHEMA pub TO gisapp_read_public;
GRANT SELECT ON ALL TABLES IN SCHEMA pub TO gisapp_read_public;
"""

DOWNGRADE = """
DROP SCHEMA pub, audit, ingest, sensor, restricted, gis, core CASCADE;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
