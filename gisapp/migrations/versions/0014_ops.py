"""Disaster HQ operations (災害対策本部): disasters, incident categories, incidents with append-only
status events, dispatch of radio units (one active assignment per unit, by a constraint), citizen
reports (通報) waiting for moderation, and what the citizen map may show.

Status codes and their labels: unhandled 未対応, in_progress 対応中, done 対応済, cancelled 取消.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-21
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE SCHEMA ops;
GRANT USAGE ON SCHEMA ops TO gisapp_rw;

-- 災害: HQ activation opens one; incidents belong to one.
CREATE TABLE ops.disaster (
  id         serial PRIMARY KEY,
  name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),   -- e.g. 令和8年台風第10号
  opened_at  timestamptz NOT NULL DEFAULT now(),
  opened_by  text NOT NULL,
  closed_at  timestamptz,
  closed_by  text,
  CHECK (closed_at IS NULL OR closed_at >= opened_at)
);

-- Categories are data: HQ adds its own and chooses which ones the citizen map shows.
CREATE TABLE ops.incident_category (
  code     text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
  name_ja  text NOT NULL CHECK (length(name_ja) BETWEEN 1 AND 40),
  name_en  text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 60),
  public   boolean NOT NULL DEFAULT false,   -- shown on the citizen map (status only, no details)
  sort     smallint NOT NULL DEFAULT 100,
  active   boolean NOT NULL DEFAULT true
);
INSERT INTO ops.incident_category (code, name_ja, name_en, public, sort) VALUES
  ('landslide',       '土砂崩れ',   'Landslide',         false, 10),
  ('fallen_tree',     '倒木',       'Fallen tree',       false, 20),
  ('flooding',        '冠水・浸水', 'Flooding',          false, 30),
  ('road_damage',     '道路損傷',   'Road damage',       false, 40),
  ('road_closure',    '通行止め',   'Road closure',      true,  45),
  ('building_damage', '建物被害',   'Building damage',   false, 50),
  ('fire',            '火災',       'Fire',              false, 60),
  ('power_outage',    '停電',       'Power outage',      false, 70),
  ('rescue',          '要救助',     'Rescue needed',     false, 80),
  ('other',           'その他',     'Other',             false, 90);

CREATE TABLE ops.incident (
  id               bigserial PRIMARY KEY,
  disaster_id      int NOT NULL REFERENCES ops.disaster(id),
  category         text NOT NULL REFERENCES ops.incident_category(code),
  title            text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
  description      text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
  address          text NOT NULL DEFAULT '' CHECK (length(address) <= 300),
  priority         smallint NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),   -- 1 = most urgent
  source           text NOT NULL CHECK (source IN ('radio', 'staff', 'citizen', 'phone')),
  source_ref       text,                    -- the radio unit's message id, the citizen report id …
  geom             geometry(Point, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  area             geometry(MultiPolygon, 4326) CHECK (area IS NULL OR ST_IsValid(area)),
  road_segment_id  bigint REFERENCES gis.road_segment(id) ON DELETE SET NULL,   -- nearest road-ledger segment
  road_distance_m  real,
  status           text NOT NULL DEFAULT 'unhandled'
                   CHECK (status IN ('unhandled', 'in_progress', 'done', 'cancelled')),
  version          int NOT NULL DEFAULT 1,
  reported_at      timestamptz NOT NULL DEFAULT now(),   -- when it was reported (the device's time for radios)
  created_by       text NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source, source_ref)               -- a radio report delivered twice is one incident
);
CREATE INDEX incident_geom_idx ON ops.incident USING gist (geom);
CREATE INDEX incident_disaster_idx ON ops.incident (disaster_id, status);

-- Every change is an event; the incident row is the current state, the events are the record.
CREATE TABLE ops.incident_event (
  id           bigserial PRIMARY KEY,
  incident_id  bigint NOT NULL REFERENCES ops.incident(id),
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor        text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('created', 'status', 'edited', 'dispatch', 'assignment', 'report_merged',
                                             'photo')),
  from_status  text,
  to_status    text,
  version      int NOT NULL,               -- the incident's version after this event
  note         text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
  data         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_event_incident_idx ON ops.incident_event (incident_id, id);
CREATE INDEX incident_event_at_idx ON ops.incident_event (at);

CREATE FUNCTION ops.reject_change() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION '% is append-only (記録は追記のみ)', TG_TABLE_NAME;
END $f$;
CREATE TRIGGER incident_event_append_only BEFORE UPDATE OR DELETE ON ops.incident_event
  FOR EACH ROW EXECUTE FUNCTION ops.reject_change();
CREATE TRIGGER incident_event_no_truncate BEFORE TRUNCATE ON ops.incident_event
  FOR EACH STATEMENT EXECUTE FUNCTION ops.reject_change();

-- Photos staff attach to an incident (citizen reports keep theirs in ops.citizen_report).
CREATE TABLE ops.incident_photo (
  id           bigserial PRIMARY KEY,
  incident_id  bigint NOT NULL REFERENCES ops.incident(id),
  photo        bytea NOT NULL,             -- re-encoded: no EXIF, no GPS
  photo_type   text NOT NULL CHECK (photo_type IN ('image/jpeg', 'image/png')),
  width        int NOT NULL CHECK (width > 0),
  height       int NOT NULL CHECK (height > 0),
  uploaded_by  text NOT NULL,
  uploaded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_photo_incident_idx ON ops.incident_photo (incident_id);

-- Teams (班): staff dispatched together, with the radio unit they carry if any.
CREATE TABLE ops.team (
  id             text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  name           text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
  department_id  int REFERENCES core.department(id),
  radio_unit_id  text UNIQUE REFERENCES sensor.device(id),   -- one radio belongs to one team
  active         boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Dispatch: a radio unit, or a team (with the radio it carries), on an incident.
CREATE TABLE ops.assignment (
  id             bigserial PRIMARY KEY,
  incident_id    bigint NOT NULL REFERENCES ops.incident(id),
  unit_id        text REFERENCES sensor.device(id),
  team_id        text REFERENCES ops.team(id),
  state          text NOT NULL DEFAULT 'dispatched' CHECK (state IN ('dispatched', 'on_scene', 'cleared')),
  dispatched_at  timestamptz NOT NULL DEFAULT now(),
  dispatched_by  text NOT NULL,
  on_scene_at    timestamptz,
  cleared_at     timestamptz,
  CHECK (unit_id IS NOT NULL OR team_id IS NOT NULL),
  CHECK ((state = 'cleared') = (cleared_at IS NOT NULL))
);
-- No unit and no team is dispatched twice: at most one assignment each that is not cleared (rule).
-- A team's assignment also names its radio, so the radio cannot be sent elsewhere meanwhile.
CREATE UNIQUE INDEX assignment_one_active_per_unit ON ops.assignment (unit_id) WHERE state <> 'cleared';
CREATE UNIQUE INDEX assignment_one_active_per_team ON ops.assignment (team_id) WHERE state <> 'cleared';
CREATE INDEX assignment_incident_idx ON ops.assignment (incident_id);
-- Only enabled radio units and active teams can be dispatched.
CREATE FUNCTION ops.check_assignment_unit() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF NEW.unit_id IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM sensor.device WHERE id = NEW.unit_id AND kind = 'radio_unit' AND enabled) THEN
    RAISE EXCEPTION 'unit % is not an enabled radio unit', NEW.unit_id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.team_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ops.team WHERE id = NEW.team_id AND active) THEN
    RAISE EXCEPTION 'team % is not an active team', NEW.team_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $f$;
CREATE TRIGGER assignment_unit_kind BEFORE INSERT ON ops.assignment
  FOR EACH ROW EXECUTE FUNCTION ops.check_assignment_unit();

-- Live events for the HQ map (no free text beyond the title; the stream is internal).
CREATE FUNCTION ops.notify_incident() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'incident', 'id', NEW.id, 'disaster_id', NEW.disaster_id, 'category', NEW.category,
    'status', NEW.status, 'version', NEW.version, 'priority', NEW.priority, 'source', NEW.source,
    'lon', ST_X(NEW.geom), 'lat', ST_Y(NEW.geom), 'updated_at', NEW.updated_at)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER incident_notify AFTER INSERT OR UPDATE ON ops.incident
  FOR EACH ROW EXECUTE FUNCTION ops.notify_incident();

CREATE FUNCTION ops.notify_assignment() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'assignment', 'id', NEW.id, 'incident_id', NEW.incident_id, 'unit_id', NEW.unit_id,
    'team_id', NEW.team_id, 'state', NEW.state)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER assignment_notify AFTER INSERT OR UPDATE ON ops.assignment
  FOR EACH ROW EXECUTE FUNCTION ops.notify_assignment();

-- 通報: citizens' reports wait here, invisible to the public, until staff act on them.
CREATE TABLE ops.citizen_report (
  id            bigserial PRIMARY KEY,
  token_hash    bytea NOT NULL UNIQUE,       -- SHA-256 of the reporter's status link token
  category      text NOT NULL REFERENCES ops.incident_category(code),
  description   text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  geom          geometry(Point, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  photo         bytea,                       -- re-encoded: no EXIF, no GPS
  photo_type    text CHECK (photo_type IN ('image/jpeg', 'image/png')),
  client_key    bytea NOT NULL,              -- keyed hash of the sender's address, for rate limiting only
  state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'merged', 'rejected')),
  incident_id   bigint REFERENCES ops.incident(id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  moderated_by  text,
  moderated_at  timestamptz,
  CHECK ((photo IS NULL) = (photo_type IS NULL)),
  CHECK ((state IN ('accepted', 'merged')) = (incident_id IS NOT NULL))
);
CREATE INDEX citizen_report_state_idx ON ops.citizen_report (state, created_at);
CREATE INDEX citizen_report_client_idx ON ops.citizen_report (client_key, created_at);
CREATE INDEX citizen_report_geom_idx ON ops.citizen_report USING gist (geom);

CREATE FUNCTION ops.notify_citizen_report() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'citizen_report', 'id', NEW.id, 'state', NEW.state, 'category', NEW.category)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER citizen_report_notify AFTER INSERT OR UPDATE OF state ON ops.citizen_report
  FOR EACH ROW EXECUTE FUNCTION ops.notify_citizen_report();

GRANT SELECT, INSERT, UPDATE ON ops.disaster, ops.incident, ops.assignment, ops.citizen_report, ops.team TO gisapp_rw;
GRANT SELECT, INSERT, UPDATE ON ops.incident_category TO gisapp_rw;
GRANT SELECT, INSERT ON ops.incident_event, ops.incident_photo TO gisapp_rw;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ops TO gisapp_rw;

-- ---------------------------------------------------------------- the citizen-facing side
-- The public role reads only pub views and calls only these functions; it has no grant on ops.*.
-- Incidents of the categories HQ made public, with their status: no title, description, address,
-- source or reporter.
CREATE VIEW pub.incident AS
  SELECT i.id, i.category, c.name_ja AS category_ja, c.name_en AS category_en, i.status, i.updated_at, i.geom
  FROM ops.incident i
  JOIN ops.incident_category c ON c.code = i.category
  JOIN ops.disaster d ON d.id = i.disaster_id
  WHERE c.public AND i.status <> 'cancelled' AND d.closed_at IS NULL;
GRANT SELECT ON pub.incident TO gisapp_read_public, gisapp_rw;

CREATE VIEW pub.incident_category AS
  SELECT code, name_ja, name_en, public, sort FROM ops.incident_category WHERE active;
GRANT SELECT ON pub.incident_category TO gisapp_read_public, gisapp_rw;

-- A report from the citizen form. Rate limit: `per_window` reports per `window` and sender.
CREATE FUNCTION pub.submit_citizen_report(
    p_token_hash bytea, p_category text, p_description text, p_lon float8, p_lat float8,
    p_photo bytea, p_photo_type text, p_client_key bytea,
    p_per_window int DEFAULT 5, p_window interval DEFAULT interval '10 minutes')
  RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE
  recent int;
  new_id bigint;
BEGIN
  -- Serialise per sender so that concurrent submissions cannot slip past the limit together.
  PERFORM pg_advisory_xact_lock(hashtextextended(encode(p_client_key, 'hex'), 0));
  SELECT count(*) INTO recent FROM ops.citizen_report
   WHERE client_key = p_client_key AND created_at > now() - p_window;
  IF recent >= p_per_window THEN
    RAISE EXCEPTION 'rate limited' USING ERRCODE = 'GA429';
  END IF;
  INSERT INTO ops.citizen_report (token_hash, category, description, geom, photo, photo_type, client_key)
  VALUES (p_token_hash, p_category, coalesce(p_description, ''),
          ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326), p_photo, p_photo_type, p_client_key)
  RETURNING id INTO new_id;
  RETURN new_id;
END $f$;
REVOKE ALL ON FUNCTION pub.submit_citizen_report(bytea, text, text, float8, float8, bytea, text, bytea, int, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pub.submit_citizen_report(bytea, text, text, float8, float8, bytea, text, bytea, int, interval)
  TO gisapp_read_public, gisapp_rw;

-- What the reporter's link shows: the state of the report and of its incident, nothing personal.
CREATE FUNCTION pub.citizen_report_status(p_token_hash bytea)
  RETURNS TABLE (category text, category_ja text, category_en text, report_state text,
                 incident_status text, reported_at timestamptz, updated_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
  SELECT r.category, c.name_ja, c.name_en, r.state, i.status, r.created_at,
         greatest(r.created_at, r.moderated_at, i.updated_at)
    FROM ops.citizen_report r
    JOIN ops.incident_category c ON c.code = r.category
    LEFT JOIN ops.incident i ON i.id = r.incident_id
   WHERE r.token_hash = p_token_hash
$f$;
REVOKE ALL ON FUNCTION pub.citizen_report_status(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pub.citizen_report_status(bytea) TO gisapp_read_public, gisapp_rw;
"""

DOWNGRADE = r"""
DROP FUNCTION pub.citizen_report_status(bytea);
DROP FUNCTION pub.submit_citizen_report(bytea, text, text, float8, float8, bytea, text, bytea, int, interval);
DROP VIEW pub.incident_category;
DROP VIEW pub.incident;
DROP SCHEMA ops CASCADE;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
