"""Rain and water-level gauges: observations, the computed state per gauge, and level-change alerts.

- ``sensor.observation``: one row per device, kind and device timestamp, so a redelivered message
  is stored once (``ON CONFLICT DO NOTHING``).
- ``sensor.gauge_state``: the values computed from the observations (10-minute, 60-minute and
  continuous rain, water level) and the current level name per measure.
- ``sensor.alert``: one row per change of level (up or down), NOTIFYing ``gisapp_events`` with
  ``{"type": "gauge_alert", ...}``; a state change NOTIFYs ``{"type": "gauge_update", ...}``.

Only ``gisapp_rw`` is granted; the public role gets nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE sensor.observation (
  device_id    text NOT NULL REFERENCES sensor.device(id) ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN ('rain_10min', 'level')),
  device_ts    timestamptz NOT NULL,       -- the device's own timestamp, never "now"
  value        double precision NOT NULL CHECK (kind <> 'rain_10min' OR value >= 0),
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, kind, device_ts)  -- redelivery is idempotent; range scans per gauge
);

CREATE TABLE sensor.gauge_state (
  device_id         text PRIMARY KEY REFERENCES sensor.device(id) ON DELETE CASCADE,
  as_of             timestamptz,           -- device time the values below are computed for
  rain_10min        double precision,
  rain_60min        double precision,
  continuous        double precision,      -- 連続雨量
  continuous_since  timestamptz,
  level             double precision,      -- water level, metres
  levels            jsonb NOT NULL DEFAULT '{}',  -- measure -> current level name
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sensor.alert (
  id          bigserial PRIMARY KEY,
  device_id   text NOT NULL REFERENCES sensor.device(id) ON DELETE CASCADE,
  measure     text NOT NULL,
  level_from  text,                        -- NULL: below every threshold
  level_to    text,
  value       double precision NOT NULL,
  at          timestamptz NOT NULL,        -- device time
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_device_at_idx ON sensor.alert (device_id, at);

CREATE FUNCTION sensor.notify_gauge_alert() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'gauge_alert', 'device_id', NEW.device_id, 'measure', NEW.measure,
    'from', NEW.level_from, 'to', NEW.level_to, 'value', NEW.value, 'at', NEW.at)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER alert_notify AFTER INSERT ON sensor.alert
  FOR EACH ROW EXECUTE FUNCTION sensor.notify_gauge_alert();

CREATE FUNCTION sensor.notify_gauge_update() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'gauge_update', 'device_id', NEW.device_id, 'as_of', NEW.as_of,
    'rain_10min', NEW.rain_10min, 'rain_60min', NEW.rain_60min, 'continuous', NEW.continuous,
    'continuous_since', NEW.continuous_since, 'level', NEW.level, 'levels', NEW.levels)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER gauge_state_notify AFTER INSERT OR UPDATE ON sensor.gauge_state
  FOR EACH ROW WHEN (NEW.as_of IS NOT NULL) EXECUTE FUNCTION sensor.notify_gauge_update();

GRANT SELECT, INSERT, UPDATE, DELETE ON sensor.observation, sensor.gauge_state, sensor.alert TO gisapp_rw;
GRANT USAGE, SELECT ON SEQUENCE sensor.alert_id_seq TO gisapp_rw;
"""

DOWNGRADE = """
DROP TABLE IF EXISTS sensor.alert;
DROP TABLE IF EXISTS sensor.gauge_state;
DROP TABLE IF EXISTS sensor.observation;
DROP FUNCTION IF EXISTS sensor.notify_gauge_alert();
DROP FUNCTION IF EXISTS sensor.notify_gauge_update();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
