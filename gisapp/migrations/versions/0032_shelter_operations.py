"""Shelter operations: closing with the people inside accounted for, needs (物資) and 要配慮者数 per
shelter, partial households, incidents moved between disasters and disasters merged.

- ``ops.checkin_event`` gains ``cause`` (scan at a kiosk; moved to another shelter, checked out when the
  shelter closed, or transferred by a disaster merge) and ``note`` (the reason given), so a shelter
  closed with 12 people inside leaves 12 exits (and, when moved, 12 entries elsewhere) on the record
  instead of people vanishing from the HQ totals (issue 14, Wrong 2).
- ``ops.shelter_need`` (物資: item, quantity, unit, priority; requested → arranged → delivered, or
  cancelled) with a version, and its append-only ``ops.shelter_need_event``; ``ops.shelter_care_count``:
  append-only reports of 要配慮者数 by category (the latest one counts). Internal only: no ``pub.`` view.
- ``ops.disaster.merged_into``: a disaster closed by merging it into another (a radio report auto-opened
  it beside the real one); ``ops.incident_event`` takes kind ``moved`` (an incident moved between
  disasters, issue 14 Wrong 3).
- A merge moves the merged disaster's HQ log rows too (``UPDATE (disaster_id)`` on ``ops.hq_log`` and
  ``ops.checkin_event``, that column only).
- ``restricted.copy_household_status(from, to)``: a merge carries the households' evacuation status
  reports over (the table is append-only and row-level secured, so the copy is a SECURITY DEFINER
  function that copies and never reveals a row).

Revision ID: 0032
Revises: 0027
Create Date: 2026-12-08
"""

from alembic import op

revision = "0032"
down_revision = "0027"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- ------------------------------------------------------------------ check-in causes
ALTER TABLE ops.checkin_event
  ADD COLUMN cause text NOT NULL DEFAULT 'scan' CHECK (cause IN ('scan', 'moved', 'closed', 'merged')),
  ADD COLUMN note  text NOT NULL DEFAULT '' CHECK (length(note) <= 200);
DROP TRIGGER checkin_event_append_only ON ops.checkin_event;
CREATE TRIGGER checkin_event_append_only
  BEFORE UPDATE OF client_event_id, opening_id, kind, persons, staff, cause, note
  OR DELETE ON ops.checkin_event FOR EACH ROW EXECUTE FUNCTION ops.reject_change();
CREATE INDEX checkin_presence_opening_idx ON ops.checkin_presence (opening_id);

-- ------------------------------------------------------------------ disasters: merge, moved incidents
ALTER TABLE ops.disaster
  ADD COLUMN merged_into int REFERENCES ops.disaster(id),
  ADD CONSTRAINT disaster_merged_closed CHECK (merged_into IS NULL OR (closed_at IS NOT NULL AND merged_into <> id));
ALTER TABLE ops.incident_event DROP CONSTRAINT incident_event_kind_check;
ALTER TABLE ops.incident_event ADD CONSTRAINT incident_event_kind_check
  CHECK (kind IN ('created', 'status', 'edited', 'dispatch', 'assignment', 'report_merged', 'photo', 'moved'));

-- ------------------------------------------------------------------ needs (物資)
CREATE TABLE ops.shelter_need (
  id           bigserial PRIMARY KEY,
  disaster_id  int NOT NULL REFERENCES ops.disaster(id),
  shelter_id   bigint NOT NULL REFERENCES gis.shelter(id),
  item         text NOT NULL CHECK (length(btrim(item)) BETWEEN 1 AND 100),      -- 飲料水, 毛布, 紙おむつ …
  quantity     int NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
  unit         text NOT NULL CHECK (length(btrim(unit)) BETWEEN 1 AND 20),        -- 本, 枚, 箱, 人分 …
  priority     smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 3),      -- 1 高, 2 中, 3 低
  status       text NOT NULL DEFAULT 'requested'
               CHECK (status IN ('requested', 'arranged', 'delivered', 'cancelled')),  -- 要請中/手配済/配送済/取消
  note         text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
  version      int NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_by   text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shelter_need_disaster_idx ON ops.shelter_need (disaster_id, shelter_id, status);

CREATE TABLE ops.shelter_need_event (
  id           bigserial PRIMARY KEY,
  need_id      bigint NOT NULL REFERENCES ops.shelter_need(id),
  version      int NOT NULL,
  action       text NOT NULL CHECK (action IN ('requested', 'changed', 'status')),
  from_status  text,
  to_status    text,
  quantity     int NOT NULL,
  actor        text NOT NULL,
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  note         text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
  UNIQUE (need_id, version)
);
CREATE TRIGGER shelter_need_event_append_only BEFORE UPDATE OR DELETE ON ops.shelter_need_event
  FOR EACH ROW EXECUTE FUNCTION ops.reject_change();
CREATE TRIGGER shelter_need_event_no_truncate BEFORE TRUNCATE ON ops.shelter_need_event
  FOR EACH STATEMENT EXECUTE FUNCTION ops.reject_change();

-- 要配慮者数: each report is kept; the latest per shelter and disaster is the current count.
CREATE TABLE ops.shelter_care_count (
  id           bigserial PRIMARY KEY,
  disaster_id  int NOT NULL REFERENCES ops.disaster(id),
  shelter_id   bigint NOT NULL REFERENCES gis.shelter(id),
  version      int NOT NULL CHECK (version >= 1),
  counts       jsonb NOT NULL CHECK (jsonb_typeof(counts) = 'object'),  -- {"elderly": 12, "infant": 3, …}
  reported_by  text NOT NULL,
  reported_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (disaster_id, shelter_id, version)
);
-- A merge moves reports to the surviving disaster (disaster_id): nothing else may change.
CREATE TRIGGER shelter_care_count_append_only
  BEFORE UPDATE OF shelter_id, version, counts, reported_by, reported_at OR DELETE ON ops.shelter_care_count
  FOR EACH ROW EXECUTE FUNCTION ops.reject_change();

-- Live: the HQ page and the shelter screen refetch (numbers and items only; the stream is internal).
CREATE FUNCTION ops.notify_shelter_need() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'shelter_need', 'disaster_id', NEW.disaster_id, 'shelter_id', NEW.shelter_id)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER shelter_need_notify AFTER INSERT OR UPDATE ON ops.shelter_need
  FOR EACH ROW EXECUTE FUNCTION ops.notify_shelter_need();
CREATE TRIGGER shelter_care_count_notify AFTER INSERT ON ops.shelter_care_count
  FOR EACH ROW EXECUTE FUNCTION ops.notify_shelter_need();

GRANT SELECT, INSERT, UPDATE ON ops.shelter_need TO gisapp_rw;
GRANT SELECT, INSERT ON ops.shelter_need_event TO gisapp_rw;
GRANT SELECT, INSERT, UPDATE (disaster_id) ON ops.shelter_care_count TO gisapp_rw;
GRANT UPDATE (disaster_id) ON ops.checkin_event, ops.hq_log TO gisapp_rw;
GRANT USAGE ON SEQUENCE ops.shelter_need_id_seq, ops.shelter_need_event_id_seq, ops.shelter_care_count_id_seq
  TO gisapp_rw;

-- ------------------------------------------------------------------ merge: households' status reports
-- Copies the reports of households that have none in the surviving disaster (their history, in order);
-- answers how many rows were copied. Reads nothing back to the caller.
CREATE FUNCTION restricted.copy_household_status(p_from int, p_to int) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE
  caller_roles text := current_setting('gisapp.roles', true);
  n int;
BEGIN
  PERFORM set_config('gisapp.roles', 'admin', true);
  INSERT INTO restricted.household_status (household_id, disaster_id, status, source, reported_by, reported_at, note)
  SELECT s.household_id, p_to, s.status, s.source, s.reported_by, s.reported_at, s.note
    FROM restricted.household_status s
   WHERE s.disaster_id = p_from
     AND NOT EXISTS (SELECT 1 FROM restricted.household_status t
                      WHERE t.disaster_id = p_to AND t.household_id = s.household_id)
   ORDER BY s.id;
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
  RETURN n;
END $f$;
REVOKE ALL ON FUNCTION restricted.copy_household_status(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION restricted.copy_household_status(int, int) TO gisapp_rw;
"""

DOWNGRADE = r"""
DROP FUNCTION restricted.copy_household_status(int, int);
DROP TABLE ops.shelter_care_count;
DROP TABLE ops.shelter_need_event;
DROP TABLE ops.shelter_need;
DROP FUNCTION ops.notify_shelter_need();
-- A move stays on the record as an edit (the table is append-only: its guard is lifted for this alone).
ALTER TABLE ops.incident_event DISABLE TRIGGER incident_event_append_only;
UPDATE ops.incident_event SET kind = 'edited' WHERE kind = 'moved';
ALTER TABLE ops.incident_event ENABLE TRIGGER incident_event_append_only;
ALTER TABLE ops.incident_event DROP CONSTRAINT incident_event_kind_check;
ALTER TABLE ops.incident_event ADD CONSTRAINT incident_event_kind_check
  CHECK (kind IN ('created', 'status', 'edited', 'dispatch', 'assignment', 'report_merged', 'photo'));
ALTER TABLE ops.disaster DROP CONSTRAINT disaster_merged_closed, DROP COLUMN merged_into;
DROP INDEX ops.checkin_presence_opening_idx;
DROP TRIGGER checkin_event_append_only ON ops.checkin_event;
REVOKE UPDATE (disaster_id) ON ops.checkin_event, ops.hq_log FROM gisapp_rw;
ALTER TABLE ops.checkin_event DROP COLUMN note, DROP COLUMN cause;
CREATE TRIGGER checkin_event_append_only BEFORE UPDATE OF client_event_id, opening_id, kind, persons, staff
  OR DELETE ON ops.checkin_event FOR EACH ROW EXECUTE FUNCTION ops.reject_change();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
