"""A household's evacuation status is its latest word: a report made after a shelter check-in counts
(車中泊 in the shelter's car park is common), a check-in made after the last report counts as 避難所.

Until now a check-in won whatever came after it, so a resident checked in at a shelter who then
reported 車中泊 was told "受け付けました：車中泊" and counted as 避難所. The resident's page also learns
whether the household is checked in at all (``checked_in``), to say so next to the latest report.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

UPGRADE = r"""
DROP FUNCTION pub.household_status_by_token(text);
CREATE FUNCTION pub.household_status_by_token(p_token text)
  RETURNS TABLE (disaster_name text, status text, reported_at timestamptz, area_code text, in_shelter boolean,
                 checked_in boolean)
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
         -- in_shelter: the check-in is the household's latest word (it counts as 避難所)
         p.since IS NOT NULL AND (s.reported_at IS NULL OR p.since > s.reported_at),
         p.since IS NOT NULL
    FROM h LEFT JOIN d ON true
    LEFT JOIN ops.checkin_presence p ON p.household_id = h.id AND p.disaster_id = d.id
    LEFT JOIN LATERAL (SELECT s.status, s.reported_at FROM restricted.household_status s
                        WHERE s.household_id = h.id AND s.disaster_id = d.id ORDER BY s.id DESC LIMIT 1) s ON true;
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
END $f$;
REVOKE ALL ON FUNCTION pub.household_status_by_token(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pub.household_status_by_token(text) TO gisapp_read_public, gisapp_rw;

-- Totals per area for HQ: numbers only. A household's status is its latest word in the disaster: the
-- latest report, or 避難所 when its check-in came after that report; 不明 without either.
CREATE OR REPLACE FUNCTION ops.evacuation_by_area(p_disaster int)
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
           -- inside a shelter since after the latest report (or with no report): 避難所
           CASE WHEN p.since IS NOT NULL AND (s.reported_at IS NULL OR p.since > s.reported_at) THEN 'shelter'
                ELSE coalesce(s.status, 'unknown') END AS status
      FROM restricted.household h
      LEFT JOIN ops.checkin_presence p ON p.household_id = h.id AND p.disaster_id = p_disaster
      LEFT JOIN LATERAL (SELECT s.status, s.reported_at FROM restricted.household_status s
                          WHERE s.household_id = h.id AND s.disaster_id = p_disaster
                          ORDER BY s.id DESC LIMIT 1) s ON true)
  SELECT c.area_code, count(*)::int, sum(c.persons)::int,
         count(*) FILTER (WHERE c.status = 'home')::int, count(*) FILTER (WHERE c.status = 'relatives')::int,
         count(*) FILTER (WHERE c.status = 'shelter')::int, count(*) FILTER (WHERE c.status = 'car')::int,
         count(*) FILTER (WHERE c.status = 'unknown')::int
    FROM current c GROUP BY c.area_code ORDER BY c.area_code NULLS LAST;
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
END $f$;
"""

DOWNGRADE = r"""
DROP FUNCTION pub.household_status_by_token(text);
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

CREATE OR REPLACE FUNCTION ops.evacuation_by_area(p_disaster int)
  RETURNS TABLE (area_code text, households int, persons int, home int, relatives int, shelter int, car int,
                 unknown int)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
#variable_conflict use_column
DECLARE
  caller_roles text := current_setting('gisapp.roles', true);
BEGIN
  PERFORM set_config('gisapp.roles', 'admin', true);
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
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
