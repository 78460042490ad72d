"""Radio positions notify once per device and statement, not once per row.

At thousands of positions a second a row trigger queues thousands of NOTIFYs per second, costs the
ingest transaction a function call per row and floods every HQ map with positions it would draw over
at once. The statement trigger reads the transition table and sends each device's newest position of
the batch; the HQ map keeps the newest it has seen (device_ts), so an old redelivery never moves a unit
back.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
DROP TRIGGER radio_position_notify ON sensor.radio_position;
DROP FUNCTION sensor.notify_radio_position();
CREATE FUNCTION sensor.notify_radio_positions() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'radio_position', 'device_id', n.device_id,
    'lon', ST_X(n.geom), 'lat', ST_Y(n.geom), 'device_ts', n.device_ts)::text)
  FROM (SELECT DISTINCT ON (device_id) device_id, geom, device_ts
          FROM inserted ORDER BY device_id, device_ts DESC) AS n;
  RETURN NULL;
END $f$;
CREATE TRIGGER radio_position_notify AFTER INSERT ON sensor.radio_position
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION sensor.notify_radio_positions();
"""
    )


def downgrade() -> None:
    op.execute(
        """
DROP TRIGGER radio_position_notify ON sensor.radio_position;
DROP FUNCTION sensor.notify_radio_positions();
CREATE FUNCTION sensor.notify_radio_position() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'radio_position', 'device_id', NEW.device_id,
    'lon', ST_X(NEW.geom), 'lat', ST_Y(NEW.geom), 'device_ts', NEW.device_ts)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER radio_position_notify AFTER INSERT ON sensor.radio_position
  FOR EACH ROW EXECUTE FUNCTION sensor.notify_radio_position();
"""
    )
