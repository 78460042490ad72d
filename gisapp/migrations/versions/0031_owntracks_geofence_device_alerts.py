"""The field radios' whole protocol (issue 14, Wrong 8 / Wrong 4, device alerts, geofence events).

1. ``ingest.ignored_message``: valid OwnTracks messages we take but do not store (waypoints, steps,
   cmd, configuration, encrypted …) counted per device and ``_type`` (admins see the counts on the
   dead-letter screen), instead of one dead letter each burying the real errors.
2. ``sensor.device_status`` learns what a unit says of itself: its OwnTracks card (``card_name``, the
   display name its crew set) and its status message (``info``: app and device versions), and the
   device time its zones were last computed at (``zones_at``).
3. ``sensor.geofence_event``: a unit entering or leaving a region, from OwnTracks transitions (regions
   set on the phone) and from its positions (hazard areas: 土砂災害警戒区域, 浸水想定区域; shelters within a
   radius), with ``sensor.unit_zone`` holding where each unit is now, so each batch needs one spatial
   query. Each event NOTIFYs ``geofence``; the chronology (``ops.hq_log``, kind 'geofence', unit_id) takes
   every OwnTracks transition but, of the zones crossed by positions, only an entering not seen for that
   unit and zone in the last 30 minutes.
4. ``ingest.device_alert``: what a device did wrong (a dead letter, an unknown category, an unreadable
   encrypted payload, a clock far off), aggregated per device, reason and 10-minute window: the first
   of a window writes one ``ops.hq_log`` row (kind 'device', unit_id, incident_id for an unknown
   category) and NOTIFYs ``device_alert``; the rest only count, so a flood makes one entry, not thousands.

Revision ID: 0031
Revises: 0032
Create Date: 2026-12-08
"""

from alembic import op

revision = "0031"
down_revision = "0032"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- ======================================================================== 1. ignored messages
CREATE TABLE ingest.ignored_message (
  device_id  text NOT NULL,
  msg_type   text NOT NULL,               -- the OwnTracks _type ('waypoint', 'steps', …) or 'empty'
  count      bigint NOT NULL CHECK (count > 0),
  first_at   timestamptz NOT NULL DEFAULT now(),
  last_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, msg_type)
);

-- ======================================================================== 2. what a unit says of itself
ALTER TABLE sensor.device_status
  ADD COLUMN card_name text CHECK (length(card_name) <= 200),
  ADD COLUMN card_at   timestamptz,
  ADD COLUMN info      jsonb,
  ADD COLUMN info_at   timestamptz,
  ADD COLUMN zones_at  timestamptz;      -- device time of the position its zones were computed at

-- ======================================================================== 3. geofence events
CREATE TABLE sensor.geofence_event (
  id           bigserial PRIMARY KEY,
  device_id    text NOT NULL REFERENCES sensor.device(id) ON DELETE CASCADE,
  event        text NOT NULL CHECK (event IN ('enter', 'leave')),
  region_kind  text NOT NULL CHECK (region_kind IN ('owntracks', 'hazard_area', 'shelter')),
  region_id    text NOT NULL,
  region_name  text NOT NULL DEFAULT '',
  at           timestamptz NOT NULL,        -- the device's time
  received_at  timestamptz NOT NULL DEFAULT now(),
  source       text NOT NULL CHECK (source IN ('transition', 'position')),
  geom         geometry(Point, 4326) CHECK (geom IS NULL OR ST_IsValid(geom)),
  UNIQUE (device_id, region_kind, region_id, event, at)   -- a redelivered transition is one event
);
CREATE INDEX geofence_event_at_idx ON sensor.geofence_event (at);
CREATE INDEX geofence_event_device_idx ON sensor.geofence_event (device_id, at);

CREATE TABLE sensor.unit_zone (
  device_id    text NOT NULL REFERENCES sensor.device(id) ON DELETE CASCADE,
  region_kind  text NOT NULL CHECK (region_kind IN ('hazard_area', 'shelter')),
  region_id    text NOT NULL,
  region_name  text NOT NULL DEFAULT '',
  since        timestamptz NOT NULL,
  PRIMARY KEY (device_id, region_kind, region_id)
);

CREATE FUNCTION sensor.log_geofence_event() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  kind_ja text := CASE NEW.region_kind WHEN 'shelter' THEN '避難所' WHEN 'owntracks' THEN '登録地点' ELSE '' END;
  kind_en text := CASE NEW.region_kind WHEN 'shelter' THEN 'shelter' WHEN 'owntracks' THEN 'region'
                  ELSE 'hazard area' END;
BEGIN
  -- The chronology takes what a person at the HQ should read: every transition of a region set on the
  -- phone (someone chose it), but of the zones crossed by positions only the entering, and once per
  -- unit and zone in 30 minutes (forty units wandering along a flood zone's edge would bury the day's
  -- log). Every event stays in this table, on the stream and in /api/geofence-events.
  IF NEW.source = 'position' AND (NEW.event = 'leave' OR EXISTS (
       SELECT 1 FROM sensor.geofence_event g
        WHERE g.device_id = NEW.device_id AND g.region_kind = NEW.region_kind AND g.region_id = NEW.region_id
          AND g.event = 'enter' AND g.id <> NEW.id AND g.at <= NEW.at AND g.at > NEW.at - interval '30 minutes'))
  THEN
    PERFORM pg_notify('gisapp_events', json_build_object(
      'type', 'geofence', 'id', NEW.id, 'device_id', NEW.device_id, 'event', NEW.event,
      'region_kind', NEW.region_kind, 'region_id', NEW.region_id, 'region_name', left(NEW.region_name, 200),
      'at', NEW.at)::text);
    RETURN NULL;
  END IF;
  INSERT INTO ops.hq_log (at, kind, summary_ja, summary_en, ref, actor, disaster_id, unit_id)
  SELECT NEW.at, 'geofence',
         format('%s（%s）が%s「%s」%s', d.name, d.id, kind_ja, NEW.region_name,
                CASE NEW.event WHEN 'enter' THEN 'に入りました' ELSE 'から出ました' END),
         format('%s (%s) %s %s "%s"', d.name, d.id, CASE NEW.event WHEN 'enter' THEN 'entered' ELSE 'left' END,
                kind_en, NEW.region_name),
         jsonb_build_object('geofence_event_id', NEW.id, 'region_kind', NEW.region_kind,
                            'region_id', NEW.region_id, 'event', NEW.event, 'source', NEW.source),
         'system:ingest',
         (SELECT x.id FROM ops.disaster x WHERE x.closed_at IS NULL ORDER BY x.opened_at DESC, x.id DESC LIMIT 1),
         NEW.device_id
    FROM sensor.device d WHERE d.id = NEW.device_id;
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'geofence', 'id', NEW.id, 'device_id', NEW.device_id, 'event', NEW.event,
    'region_kind', NEW.region_kind, 'region_id', NEW.region_id, 'region_name', left(NEW.region_name, 200),
    'at', NEW.at)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER geofence_event_log AFTER INSERT ON sensor.geofence_event
  FOR EACH ROW EXECUTE FUNCTION sensor.log_geofence_event();

-- ======================================================================== 4. device alerts
CREATE TABLE ingest.device_alert (
  device_id     text NOT NULL,
  reason_code   text NOT NULL,
  window_start  timestamptz NOT NULL,       -- date_bin('10 minutes', …): one entry per window
  count         int NOT NULL CHECK (count > 0),
  first_at      timestamptz NOT NULL DEFAULT now(),
  last_at       timestamptz NOT NULL DEFAULT now(),
  detail        text NOT NULL DEFAULT '',   -- the window's first reason
  incident_id   int REFERENCES ops.incident(id),
  PRIMARY KEY (device_id, reason_code, window_start)
);
CREATE INDEX device_alert_last_idx ON ingest.device_alert (last_at);

CREATE FUNCTION ingest.log_device_alert() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  label_ja text := CASE NEW.reason_code
    WHEN 'unknown_category' THEN '不明な種別の報告（その他として登録）'
    WHEN 'encrypted' THEN '暗号化されたメッセージ（読めません。端末の暗号化を切ってください）'
    WHEN 'clock_far_off' THEN '端末の時計が大きくずれています'
    WHEN 'invalid_timestamp' THEN '時刻が不正（端末の時計を確認）'
    WHEN 'unknown_topic' THEN '受け付けないトピックへの送信'
    WHEN 'wrong_kind' THEN '機器の種類と合わないデータ'
    WHEN 'implausible_location' THEN 'ありえない位置（測位できていない可能性）'
    WHEN 'unknown_device' THEN '未登録・無効の機器'
    ELSE '受け付けられないデータ' END;
  label_en text := CASE NEW.reason_code
    WHEN 'unknown_category' THEN 'report of an unknown category (filed as other)'
    WHEN 'encrypted' THEN 'encrypted messages (unreadable: turn the app''s encryption off)'
    WHEN 'clock_far_off' THEN 'the device clock is far off'
    WHEN 'invalid_timestamp' THEN 'bad timestamp (check the device clock)'
    WHEN 'unknown_topic' THEN 'messages on a topic we do not take'
    WHEN 'wrong_kind' THEN 'data of another kind of device'
    WHEN 'implausible_location' THEN 'implausible position (probably no fix)'
    WHEN 'unknown_device' THEN 'unregistered or disabled device'
    ELSE 'rejected data' END;
BEGIN
  INSERT INTO ops.hq_log (at, kind, summary_ja, summary_en, ref, actor, disaster_id, unit_id, incident_id)
  VALUES (NEW.first_at, 'device',
          format('機器 %s：%s（%s）%s', NEW.device_id, label_ja, NEW.reason_code,
                 CASE WHEN NEW.detail <> '' THEN '：' || left(NEW.detail, 300) ELSE '' END),
          format('Device %s: %s (%s)%s', NEW.device_id, label_en, NEW.reason_code,
                 CASE WHEN NEW.detail <> '' THEN ': ' || left(NEW.detail, 300) ELSE '' END),
          jsonb_build_object('reason_code', NEW.reason_code, 'window_start', NEW.window_start),
          'system:ingest',
          (SELECT x.id FROM ops.disaster x WHERE x.closed_at IS NULL ORDER BY x.opened_at DESC, x.id DESC LIMIT 1),
          NEW.device_id, NEW.incident_id);
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'device_alert', 'device_id', NEW.device_id, 'reason_code', NEW.reason_code,
    'detail', left(NEW.detail, 300), 'incident_id', NEW.incident_id, 'at', NEW.first_at)::text);
  RETURN NULL;
END $f$;
-- Only a window's first alert: ON CONFLICT … DO UPDATE (the rest of the window) fires no INSERT trigger.
CREATE TRIGGER device_alert_log AFTER INSERT ON ingest.device_alert
  FOR EACH ROW EXECUTE FUNCTION ingest.log_device_alert();

GRANT SELECT, INSERT, UPDATE, DELETE ON ingest.ignored_message, ingest.device_alert, sensor.geofence_event,
  sensor.unit_zone TO gisapp_rw;
GRANT USAGE, SELECT ON SEQUENCE sensor.geofence_event_id_seq TO gisapp_rw;
"""

DOWNGRADE = """
DELETE FROM ops.hq_log WHERE kind IN ('geofence', 'device') AND actor = 'system:ingest';
DROP TABLE ingest.device_alert, sensor.unit_zone, sensor.geofence_event, ingest.ignored_message;
DROP FUNCTION ingest.log_device_alert(), sensor.log_geofence_event();
ALTER TABLE sensor.device_status
  DROP COLUMN card_name, DROP COLUMN card_at, DROP COLUMN info, DROP COLUMN info_at, DROP COLUMN zones_at;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
