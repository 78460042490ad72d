"""Device silence as an event: a device quiet longer than its kind's limit is marked silent by a
periodic sweep (the ingest worker runs it), which pushes ``device_silent`` to the HQ event stream;
a silent or offline device that is heard again pushes ``device_online``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE sensor.device_status ADD COLUMN silent_since timestamptz;  -- set by the sweep, cleared when heard

-- Marks devices that crossed their kind's silence limit; returns how many. Offline devices (their
-- last will came) are already announced and are not marked again.
CREATE FUNCTION sensor.mark_silent() RETURNS integer LANGUAGE sql AS $f$
  WITH marked AS (
    UPDATE sensor.device_status s SET silent_since = now()
      FROM sensor.device d JOIN sensor.silence_limit l ON l.kind = d.kind
     WHERE d.id = s.device_id AND d.enabled
       AND s.silent_since IS NULL
       AND now() - s.last_seen > l.max_quiet
       AND (s.last_will_at IS NULL OR s.last_will_at < s.last_seen)
    RETURNING 1)
  SELECT count(*)::integer FROM marked
$f$;

DROP TRIGGER device_status_last_will ON sensor.device_status;
DROP FUNCTION sensor.notify_last_will();
CREATE FUNCTION sensor.notify_device_state() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  was_off boolean := OLD.silent_since IS NOT NULL
                     OR (OLD.last_will_at IS NOT NULL AND OLD.last_will_at >= OLD.last_seen);
  is_gone boolean := NEW.last_will_at IS NOT NULL AND NEW.last_will_at >= NEW.last_seen;
BEGIN
  IF NEW.last_will_at IS DISTINCT FROM OLD.last_will_at AND NEW.last_will_at IS NOT NULL THEN
    PERFORM pg_notify('gisapp_events', json_build_object(
      'type', 'device_offline', 'device_id', NEW.device_id, 'at', NEW.last_will_at)::text);
  ELSIF OLD.silent_since IS NULL AND NEW.silent_since IS NOT NULL THEN
    PERFORM pg_notify('gisapp_events', json_build_object(
      'type', 'device_silent', 'device_id', NEW.device_id, 'last_seen', NEW.last_seen,
      'at', NEW.silent_since)::text);
  ELSIF was_off AND NOT is_gone AND NEW.last_seen > OLD.last_seen THEN
    PERFORM pg_notify('gisapp_events', json_build_object(
      'type', 'device_online', 'device_id', NEW.device_id, 'at', NEW.last_seen)::text);
  END IF;
  RETURN NULL;
END $f$;
CREATE TRIGGER device_status_change AFTER UPDATE ON sensor.device_status
  FOR EACH ROW EXECUTE FUNCTION sensor.notify_device_state();
GRANT EXECUTE ON FUNCTION sensor.mark_silent() TO gisapp_rw;
"""

DOWNGRADE = r"""
DROP TRIGGER device_status_change ON sensor.device_status;
DROP FUNCTION sensor.notify_device_state();
DROP FUNCTION sensor.mark_silent();
ALTER TABLE sensor.device_status DROP COLUMN silent_since;
CREATE FUNCTION sensor.notify_last_will() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF NEW.last_will_at IS DISTINCT FROM OLD.last_will_at AND NEW.last_will_at IS NOT NULL THEN
    PERFORM pg_notify('gisapp_events', json_build_object(
      'type', 'device_offline', 'device_id', NEW.device_id, 'at', NEW.last_will_at)::text);
  END IF;
  RETURN NULL;
END $f$;
CREATE TRIGGER device_status_last_will AFTER UPDATE ON sensor.device_status
  FOR EACH ROW EXECUTE FUNCTION sensor.notify_last_will();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
