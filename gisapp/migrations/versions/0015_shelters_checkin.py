"""Shelters per disaster, pre-registered households with QR tokens, check-in events, occupancy and congestion.

- ``ops.shelter_opening``: a shelter (gis.shelter) opened for a disaster, with times, the responsible
  staff and the running occupancy. Check-ins lock this row (SELECT … FOR UPDATE), so concurrent kiosks
  of one shelter are serialised and the count stays exact.
- ``ops.checkin_event``: append-only entries and exits; ``client_event_id`` is UNIQUE so that a kiosk
  replaying its offline queue never counts twice. ``ops.checkin_presence``: who is inside now.
- ``ops.congestion_setting``: one row of thresholds (空き / やや混雑 / 混雑 / 満員) and the stale warning.
- ``restricted.household``: the pre-registration (personal data), FORCEd row-level security. A row is
  visible to welfare/admin, or to a transaction that holds the household's own token in the
  ``gisapp.household_token`` setting (the policy compares its SHA-256 with the stored hash): the token
  is the capability, for the resident (through pub.* SECURITY DEFINER functions) and for the kiosk.
- ``pub.shelter_status``: open shelters with occupancy and level for the citizen map, never a person.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-21
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- ------------------------------------------------------------------ settings
CREATE TABLE ops.congestion_setting (
  id              smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  vacant_below    numeric(5,1) NOT NULL DEFAULT 50,    -- 空き      below this %
  moderate_below  numeric(5,1) NOT NULL DEFAULT 80,    -- やや混雑  below this %
  crowded_below   numeric(5,1) NOT NULL DEFAULT 100,   -- 混雑      below this %, 満員 from here
  stale_minutes   int NOT NULL DEFAULT 30 CHECK (stale_minutes BETWEEN 1 AND 1440),
  updated_by      text NOT NULL DEFAULT 'migration',
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (0 < vacant_below AND vacant_below < moderate_below AND moderate_below < crowded_below
         AND crowded_below <= 200)
);
INSERT INTO ops.congestion_setting DEFAULT VALUES;

-- The level of an occupancy: vacant 空き, moderate やや混雑, crowded 混雑, full 満員; unknown without capacity.
CREATE FUNCTION ops.congestion_level(p_occupancy int, p_capacity int) RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $f$
  SELECT CASE
    WHEN p_capacity IS NULL OR p_capacity <= 0 THEN 'unknown'
    WHEN p_occupancy * 100.0 / p_capacity < s.vacant_below THEN 'vacant'
    WHEN p_occupancy * 100.0 / p_capacity < s.moderate_below THEN 'moderate'
    WHEN p_occupancy * 100.0 / p_capacity < s.crowded_below THEN 'crowded'
    ELSE 'full' END
  FROM ops.congestion_setting s WHERE s.id = 1
$f$;

-- ------------------------------------------------------------------ openings
CREATE TABLE ops.shelter_opening (
  id                 bigserial PRIMARY KEY,
  disaster_id        int NOT NULL REFERENCES ops.disaster(id),
  shelter_id         bigint NOT NULL REFERENCES gis.shelter(id) ON DELETE CASCADE,
  opened_at          timestamptz NOT NULL DEFAULT now(),
  opened_by          text NOT NULL,
  responsible_staff  text NOT NULL CHECK (length(btrim(responsible_staff)) BETWEEN 1 AND 100),
  closed_at          timestamptz,
  closed_by          text,
  occupancy          int NOT NULL DEFAULT 0 CHECK (occupancy >= 0),   -- persons inside now
  walk_ins           int NOT NULL DEFAULT 0 CHECK (walk_ins >= 0),    -- of which unregistered
  last_event_at      timestamptz,
  UNIQUE (disaster_id, shelter_id),
  CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
CREATE INDEX shelter_opening_open_idx ON ops.shelter_opening (disaster_id) WHERE closed_at IS NULL;

-- ------------------------------------------------------------------ households (personal data)
CREATE TABLE restricted.household (
  id                   bigserial PRIMARY KEY,
  token_hash           bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),   -- SHA-256 of the QR token
  representative_name  text NOT NULL CHECK (length(btrim(representative_name)) BETWEEN 1 AND 100),
  phone                text NOT NULL DEFAULT '' CHECK (length(phone) <= 30),
  address              text NOT NULL DEFAULT '' CHECK (length(address) <= 300),
  -- [{"name": text, "birth_year": int|null, "needs_care": bool, "needs": text}], 1..20 members
  members              jsonb NOT NULL CHECK (jsonb_typeof(members) = 'array'
                                             AND jsonb_array_length(members) BETWEEN 1 AND 20),
  pets                 int NOT NULL DEFAULT 0 CHECK (pets BETWEEN 0 AND 20),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION restricted.household_token_hash() RETURNS bytea
  LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $f$
  SELECT CASE WHEN coalesce(current_setting('gisapp.household_token', true), '') = '' THEN NULL
              ELSE sha256(convert_to(current_setting('gisapp.household_token', true), 'UTF8')) END
$f$;

ALTER TABLE restricted.household ENABLE ROW LEVEL SECURITY;
ALTER TABLE restricted.household FORCE ROW LEVEL SECURITY;
CREATE POLICY household_access ON restricted.household
  USING (restricted.may_access() OR token_hash = restricted.household_token_hash())
  WITH CHECK (restricted.may_access() OR token_hash = restricted.household_token_hash());

GRANT SELECT, INSERT, UPDATE, DELETE ON restricted.household TO gisapp_rw;
GRANT USAGE ON SEQUENCE restricted.household_id_seq TO gisapp_rw;
GRANT EXECUTE ON FUNCTION restricted.household_token_hash() TO gisapp_rw;

-- ------------------------------------------------------------------ check-ins
CREATE TABLE ops.checkin_event (
  id               bigserial PRIMARY KEY,
  client_event_id  uuid NOT NULL UNIQUE,            -- from the kiosk: a replay is the same event
  opening_id       bigint NOT NULL REFERENCES ops.shelter_opening(id),
  shelter_id       bigint NOT NULL,
  disaster_id      int NOT NULL,
  household_id     bigint REFERENCES restricted.household(id) ON DELETE SET NULL,  -- NULL: walk-in
  kind             text NOT NULL CHECK (kind IN ('entry', 'exit')),                 -- 入所 / 退所
  persons          int NOT NULL CHECK (persons BETWEEN 1 AND 500),
  kiosk_id         text NOT NULL CHECK (kiosk_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
  device_ts        timestamptz,
  server_ts        timestamptz NOT NULL DEFAULT clock_timestamp(),
  staff            text NOT NULL,
  occupancy_after  int NOT NULL
);
CREATE INDEX checkin_event_opening_idx ON ops.checkin_event (opening_id, id);
CREATE TRIGGER checkin_event_append_only BEFORE UPDATE OF client_event_id, opening_id, kind, persons, staff
  OR DELETE ON ops.checkin_event FOR EACH ROW EXECUTE FUNCTION ops.reject_change();
CREATE TRIGGER checkin_event_no_truncate BEFORE TRUNCATE ON ops.checkin_event
  FOR EACH STATEMENT EXECUTE FUNCTION ops.reject_change();

-- Who is inside now: at most one shelter per household and disaster.
CREATE TABLE ops.checkin_presence (
  disaster_id   int NOT NULL,
  household_id  bigint NOT NULL REFERENCES restricted.household(id) ON DELETE CASCADE,
  opening_id    bigint NOT NULL REFERENCES ops.shelter_opening(id),
  persons       int NOT NULL CHECK (persons > 0),
  since         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (disaster_id, household_id)
);

-- Live occupancy for the HQ map (numbers only; the stream is internal).
CREATE FUNCTION ops.notify_shelter_occupancy() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  cap int;
BEGIN
  SELECT capacity INTO cap FROM gis.shelter WHERE id = NEW.shelter_id;
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'shelter_occupancy', 'shelter_id', NEW.shelter_id, 'disaster_id', NEW.disaster_id,
    'occupancy', NEW.occupancy, 'capacity', cap, 'level', ops.congestion_level(NEW.occupancy, cap),
    'open', NEW.closed_at IS NULL)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER shelter_opening_notify AFTER INSERT OR UPDATE ON ops.shelter_opening
  FOR EACH ROW EXECUTE FUNCTION ops.notify_shelter_occupancy();

GRANT SELECT, INSERT, UPDATE ON ops.shelter_opening, ops.congestion_setting TO gisapp_rw;
GRANT SELECT, INSERT ON ops.checkin_event TO gisapp_rw;
GRANT SELECT, INSERT, UPDATE, DELETE ON ops.checkin_presence TO gisapp_rw;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ops TO gisapp_rw;
GRANT EXECUTE ON FUNCTION ops.congestion_level(int, int) TO gisapp_rw;

-- ---------------------------------------------------------------- the citizen-facing side
-- Open shelters of open disasters, from public layers only: numbers, never a person or household.
CREATE VIEW pub.shelter_status AS
  SELECT s.id AS shelter_id, o.disaster_id, s.name, s.address, s.capacity, o.occupancy,
         CASE WHEN s.capacity > 0 THEN round(o.occupancy * 100.0 / s.capacity, 1) END AS percent,
         -- The level inline (not ops.congestion_level): a view's functions run as the caller, and the
         -- public role may not call into ops.
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
   WHERE o.closed_at IS NULL AND d.closed_at IS NULL AND l.visibility = 'public';
GRANT SELECT ON pub.shelter_status TO gisapp_read_public, gisapp_rw;

CREATE VIEW pub.congestion_setting AS
  SELECT vacant_below, moderate_below, crowded_below, stale_minutes FROM ops.congestion_setting;
GRANT SELECT ON pub.congestion_setting TO gisapp_read_public, gisapp_rw;

-- The resident's own registration, by token. The token (not its hash) is passed in so that the
-- row-level policy itself checks it: these functions cannot reach another household.
CREATE FUNCTION pub.register_household(p_token text, p_name text, p_phone text, p_address text,
                                       p_members jsonb, p_pets int)
  RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE
  new_id bigint;
BEGIN
  PERFORM set_config('gisapp.household_token', p_token, true);
  INSERT INTO restricted.household (token_hash, representative_name, phone, address, members, pets)
  VALUES (sha256(convert_to(p_token, 'UTF8')), p_name, p_phone, p_address, p_members, p_pets)
  RETURNING id INTO new_id;
  PERFORM set_config('gisapp.household_token', '', true);
  RETURN new_id;
END $f$;

CREATE FUNCTION pub.update_household(p_token text, p_name text, p_phone text, p_address text,
                                     p_members jsonb, p_pets int)
  RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE
  n int;
BEGIN
  PERFORM set_config('gisapp.household_token', p_token, true);
  UPDATE restricted.household SET representative_name = p_name, phone = p_phone, address = p_address,
         members = p_members, pets = p_pets, updated_at = now()
   WHERE token_hash = sha256(convert_to(p_token, 'UTF8'));
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('gisapp.household_token', '', true);
  RETURN n = 1;
END $f$;

CREATE FUNCTION pub.household_by_token(p_token text)
  RETURNS TABLE (representative_name text, phone text, address text, members jsonb, pets int,
                 created_at timestamptz, updated_at timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
BEGIN
  PERFORM set_config('gisapp.household_token', p_token, true);
  RETURN QUERY SELECT h.representative_name, h.phone, h.address, h.members, h.pets, h.created_at, h.updated_at
    FROM restricted.household h WHERE h.token_hash = sha256(convert_to(p_token, 'UTF8'));
  PERFORM set_config('gisapp.household_token', '', true);
END $f$;

REVOKE ALL ON FUNCTION pub.register_household(text, text, text, text, jsonb, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION pub.update_household(text, text, text, text, jsonb, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION pub.household_by_token(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pub.register_household(text, text, text, text, jsonb, int) TO gisapp_read_public, gisapp_rw;
GRANT EXECUTE ON FUNCTION pub.update_household(text, text, text, text, jsonb, int) TO gisapp_read_public, gisapp_rw;
GRANT EXECUTE ON FUNCTION pub.household_by_token(text) TO gisapp_read_public, gisapp_rw;
"""

DOWNGRADE = r"""
DROP FUNCTION pub.household_by_token(text);
DROP FUNCTION pub.update_household(text, text, text, text, jsonb, int);
DROP FUNCTION pub.register_household(text, text, text, text, jsonb, int);
DROP VIEW pub.congestion_setting;
DROP VIEW pub.shelter_status;
DROP TABLE ops.checkin_presence;
DROP TABLE ops.checkin_event;
DROP TABLE restricted.household;
DROP FUNCTION restricted.household_token_hash();
DROP TABLE ops.shelter_opening;
DROP FUNCTION ops.notify_shelter_occupancy();
DROP FUNCTION ops.congestion_level(int, int);
DROP TABLE ops.congestion_setting;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
