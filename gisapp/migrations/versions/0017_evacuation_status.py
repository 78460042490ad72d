"""Evacuation status of households (避難状況): 在宅 / 親族・知人宅 / 避難所 / 車中泊 / 不明, reported
by the resident (with their token) or by staff, per disaster, and its totals per community area.

A report is appended, never changed: the household's status in a disaster is its latest report, and
while a check-in has it inside a shelter it counts as 避難所 whatever it said before. Who reported what
is personal data: the reports sit in the `restricted` schema under the same row-level rule as the
household; HQ reads only the totals per area, through a function that returns numbers.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-21
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- The household's community area (自治会・町丁目), chosen by the resident or staff: the code of a
-- feature of the area layer (the demo's layer `community-areas`).
ALTER TABLE restricted.household ADD COLUMN area_code text CHECK (area_code IS NULL OR area_code ~ '^[A-Za-z0-9_.-]{1,64}$');

CREATE TABLE restricted.household_status (
  id            bigserial PRIMARY KEY,
  household_id  bigint NOT NULL REFERENCES restricted.household(id) ON DELETE CASCADE,
  disaster_id   int NOT NULL REFERENCES ops.disaster(id),
  status        text NOT NULL CHECK (status IN ('home', 'relatives', 'shelter', 'car', 'unknown')),
  source        text NOT NULL CHECK (source IN ('resident', 'staff')),
  reported_by   text NOT NULL,
  reported_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  note          text NOT NULL DEFAULT '' CHECK (length(note) <= 500)
);
CREATE INDEX household_status_latest_idx ON restricted.household_status (disaster_id, household_id, id DESC);
CREATE TRIGGER household_status_append_only BEFORE UPDATE OR DELETE ON restricted.household_status
  FOR EACH ROW EXECUTE FUNCTION ops.reject_change();
ALTER TABLE restricted.household_status ENABLE ROW LEVEL SECURITY;
ALTER TABLE restricted.household_status FORCE ROW LEVEL SECURITY;
CREATE POLICY household_status_access ON restricted.household_status
  USING (restricted.may_access()) WITH CHECK (restricted.may_access());
GRANT SELECT, INSERT ON restricted.household_status TO gisapp_rw;
GRANT USAGE ON SEQUENCE restricted.household_status_id_seq TO gisapp_rw;

-- One report, by the household's token; the disaster is the most recently opened open one.
-- Errors: GA404 unknown token, GA409 no disaster open, GA422 unknown area.
CREATE FUNCTION restricted.report_status(p_token text, p_status text, p_area_code text, p_source text,
                                         p_reported_by text, p_note text)
  RETURNS TABLE (disaster_id int, disaster_name text, status text, reported_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
#variable_conflict use_column
DECLARE
  hid bigint;
  did int;
  dname text;
  caller_roles text := current_setting('gisapp.roles', true);
BEGIN
  -- This function's own reads and writes, past the row-level rule (it reaches one household, by token);
  -- the caller's roles are put back before it returns.
  PERFORM set_config('gisapp.roles', 'admin', true);
  SELECT h.id INTO hid FROM restricted.household h WHERE h.token_hash = sha256(convert_to(p_token, 'UTF8'));
  IF hid IS NULL THEN
    RAISE EXCEPTION 'unknown household' USING ERRCODE = 'GA404';
  END IF;
  SELECT d.id, d.name INTO did, dname FROM ops.disaster d WHERE d.closed_at IS NULL
   ORDER BY d.opened_at DESC, d.id DESC LIMIT 1;
  IF did IS NULL THEN
    RAISE EXCEPTION 'no disaster is open' USING ERRCODE = 'GA409';
  END IF;
  IF p_area_code IS NOT NULL THEN
    IF NOT EXISTS (SELECT 1 FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id
                    WHERE f.source_key = p_area_code AND l.slug = 'community-areas') THEN
      RAISE EXCEPTION 'unknown area' USING ERRCODE = 'GA422';
    END IF;
    UPDATE restricted.household SET area_code = p_area_code, updated_at = now() WHERE id = hid;
  END IF;
  INSERT INTO restricted.household_status AS s (household_id, disaster_id, status, source, reported_by, note)
  VALUES (hid, did, p_status, p_source, p_reported_by, coalesce(p_note, ''))
  RETURNING s.disaster_id, dname, s.status, s.reported_at INTO disaster_id, disaster_name, status, reported_at;
  -- HQ's totals per area changed (numbers only on the stream: no household, no area)
  PERFORM pg_notify('gisapp_events', json_build_object('type', 'evacuation_status', 'disaster_id', did)::text);
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
  RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
  RAISE;
END $f$;
REVOKE ALL ON FUNCTION restricted.report_status(text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION restricted.report_status(text, text, text, text, text, text) TO gisapp_rw;
GRANT USAGE ON SCHEMA restricted TO gisapp_rw;

-- The resident's path on the citizen-facing instance: always source 'resident'.
CREATE FUNCTION pub.report_household_status(p_token text, p_status text, p_area_code text)
  RETURNS TABLE (disaster_id int, disaster_name text, status text, reported_at timestamptz)
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
  SELECT * FROM restricted.report_status(p_token, p_status, p_area_code, 'resident', 'resident', '')
$f$;
REVOKE ALL ON FUNCTION pub.report_household_status(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pub.report_household_status(text, text, text) TO gisapp_read_public, gisapp_rw;

-- What the resident's page shows: their latest report in the current disaster, and their area.
CREATE FUNCTION pub.household_status_by_token(p_token text)
  RETURNS TABLE (disaster_name text, status text, reported_at timestamptz, area_code text, in_shelter boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
#variable_conflict use_column
DECLARE
  caller_roles text := current_setting('gisapp.roles', true);
BEGIN
  PERFORM set_config('gisapp.roles', 'admin', true);
  RETURN QUERY
  WITH h AS (SELECT id, area_code FROM restricted.household WHERE token_hash = sha256(convert_to(p_token, 'UTF8'))),
       d AS (SELECT id, name FROM ops.disaster WHERE closed_at IS NULL ORDER BY opened_at DESC, id DESC LIMIT 1)
  SELECT d.name, s.status, s.reported_at, h.area_code,
         EXISTS (SELECT 1 FROM ops.checkin_presence p WHERE p.household_id = h.id AND p.disaster_id = d.id)
    FROM h LEFT JOIN d ON true
    LEFT JOIN LATERAL (SELECT s.status, s.reported_at FROM restricted.household_status s
                        WHERE s.household_id = h.id AND s.disaster_id = d.id ORDER BY s.id DESC LIMIT 1) s ON true;
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
END $f$;
REVOKE ALL ON FUNCTION pub.household_status_by_token(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pub.household_status_by_token(text) TO gisapp_read_public, gisapp_rw;

-- Totals per area for HQ: numbers only. A household's status is its latest report in the disaster,
-- 避難所 while a check-in has it inside a shelter, 不明 without either.
CREATE FUNCTION ops.evacuation_by_area(p_disaster int)
  RETURNS TABLE (area_code text, households int, persons int, home int, relatives int, shelter int, car int,
                 unknown int)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
#variable_conflict use_column
DECLARE
  caller_roles text := current_setting('gisapp.roles', true);
BEGIN
  PERFORM set_config('gisapp.roles', 'admin', true);  -- numbers only leave this function
  RETURN QUERY
  WITH current AS (
    SELECT h.area_code, jsonb_array_length(h.members) AS persons,
           CASE WHEN p.household_id IS NOT NULL THEN 'shelter' ELSE coalesce(s.status, 'unknown') END AS status
      FROM restricted.household h
      LEFT JOIN ops.checkin_presence p ON p.household_id = h.id AND p.disaster_id = p_disaster
      LEFT JOIN LATERAL (SELECT s.status FROM restricted.household_status s
                          WHERE s.household_id = h.id AND s.disaster_id = p_disaster
                          ORDER BY s.id DESC LIMIT 1) s ON true)
  SELECT c.area_code, count(*)::int, sum(c.persons)::int,
         count(*) FILTER (WHERE c.status = 'home')::int, count(*) FILTER (WHERE c.status = 'relatives')::int,
         count(*) FILTER (WHERE c.status = 'shelter')::int, count(*) FILTER (WHERE c.status = 'car')::int,
         count(*) FILTER (WHERE c.status = 'unknown')::int
    FROM current c GROUP BY c.area_code ORDER BY c.area_code NULLS LAST;
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
END $f$;
REVOKE ALL ON FUNCTION ops.evacuation_by_area(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.evacuation_by_area(int) TO gisapp_rw;
"""

DOWNGRADE = r"""
DROP FUNCTION ops.evacuation_by_area(int);
DROP FUNCTION pub.household_status_by_token(text);
DROP FUNCTION pub.report_household_status(text, text, text);
DROP FUNCTION restricted.report_status(text, text, text, text, text, text);
DROP TABLE restricted.household_status;
ALTER TABLE restricted.household DROP COLUMN area_code;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
