"""Device status: when each device was last heard, whether its last will came, and when it counts
as silent (per kind, as data).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE sensor.device_status (
  device_id     text PRIMARY KEY REFERENCES sensor.device(id) ON DELETE CASCADE,
  last_seen     timestamptz NOT NULL,    -- server time of its last accepted message
  last_will_at  timestamptz              -- its last will (or an explicit goodbye) arrived
);

-- How long each kind may stay quiet before the HQ map marks it silent.
CREATE TABLE sensor.silence_limit (
  kind      text PRIMARY KEY CHECK (kind IN ('radio_unit', 'rain_gauge', 'water_gauge')),
  max_quiet interval NOT NULL CHECK (max_quiet > interval '0')
);
INSERT INTO sensor.silence_limit VALUES
  ('radio_unit', interval '5 minutes'),    -- radios report every few seconds while on
  ('rain_gauge', interval '25 minutes'),   -- gauges every 10 minutes: two missed reports
  ('water_gauge', interval '25 minutes');

CREATE VIEW sensor.device_health AS
  SELECT d.id AS device_id, d.kind, d.name, s.last_seen, s.last_will_at,
         CASE WHEN s.last_seen IS NULL THEN 'never'
              WHEN s.last_will_at IS NOT NULL AND s.last_will_at >= s.last_seen THEN 'offline'
              WHEN now() - s.last_seen > l.max_quiet THEN 'silent'
              ELSE 'online' END AS state
  FROM sensor.device d
  JOIN sensor.silence_limit l ON l.kind = d.kind
  LEFT JOIN sensor.device_status s ON s.device_id = d.id
  WHERE d.enabled;

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

GRANT SELECT, INSERT, UPDATE, DELETE ON sensor.device_status TO gisapp_rw;
GRANT SELECT ON sensor.silence_limit, sensor.device_health TO gisapp_rw;
"""

DOWNGRADE = """
DROP VIEW sensor.device_health;
DROP TABLE sensor.silence_limit;
DROP TABLE sensor.device_status;
DROP FUNCTION sensor.notify_last_will();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
