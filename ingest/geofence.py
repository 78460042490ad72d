"""Geofence events: a unit entering or leaving a region.

- OwnTracks transitions: regions set on the phone (``_type: transition``), stored as they come.
- Positions: hazard areas (土砂災害警戒区域・特別警戒区域 one by one; 浸水想定区域 per layer and kind, since a
  flood layer is many small polygons of depth ranks) and shelters within ``SHELTER_RADIUS_M``. Where each
  unit is now is kept in ``sensor.unit_zone``; a batch costs one statement: the latest position of each
  unit in the batch (newer than the one its zones were computed at, and no vaguer than
  ``MAX_ACCURACY_M``) is matched against the GiST-indexed hazard areas and shelters, and the difference
  with its current zones becomes enter / leave events.

Each event is an ``ops.hq_log`` entry (kind 'geofence') and a ``geofence`` event (migration 0031).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, text

from ingest.owntracks import Transition
from ingest.payloads import RadioPosition

SHELTER_RADIUS_M = 100.0
MAX_ACCURACY_M = 100.0  # a vaguer fix would flap a unit in and out of a zone's edge

_TRANSITIONS = text(
    """INSERT INTO sensor.geofence_event (device_id, event, region_kind, region_id, region_name, at, source, geom)
       SELECT d, e, 'owntracks', r, n, t, 'transition', ST_SetSRID(ST_MakePoint(x, y), 4326)
         FROM unnest(CAST(:ids AS text[]), CAST(:events AS text[]), CAST(:rids AS text[]),
                     CAST(:names AS text[]), CAST(:ats AS timestamptz[]), CAST(:lons AS float8[]),
                     CAST(:lats AS float8[])) AS u(d, e, r, n, t, x, y)
       ON CONFLICT DO NOTHING"""
)


def insert_transitions(conn: Connection, transitions: Sequence[Transition]) -> None:
    if transitions:
        conn.execute(
            _TRANSITIONS,
            {
                "ids": [t.device_id for t in transitions],
                "events": [t.event for t in transitions],
                "rids": [t.region_id for t in transitions],
                "names": [t.region_name for t in transitions],
                "ats": [t.at for t in transitions],
                "lons": [t.lon for t in transitions],
                "lats": [t.lat for t in transitions],
            },
        )


# Region ids: a landslide area by its id; a flood layer's areas of one kind as one region.
_ZONES = text(
    """
WITH latest AS (
  SELECT DISTINCT ON (d) d AS device_id, ts, ST_SetSRID(ST_MakePoint(x, y), 4326) AS pt
    FROM unnest(CAST(:ids AS text[]), CAST(:ts AS timestamptz[]), CAST(:lons AS float8[]),
                CAST(:lats AS float8[])) AS u(d, ts, x, y)
   ORDER BY d, ts DESC
), fresh AS (
  SELECT l.* FROM latest l
    JOIN sensor.device dv ON dv.id = l.device_id AND dv.kind = 'radio_unit'
    LEFT JOIN sensor.device_status s ON s.device_id = l.device_id
   WHERE s.zones_at IS NULL OR l.ts > s.zones_at
), inside AS (
  SELECT DISTINCT f.device_id, 'hazard_area'::text AS region_kind,
         CASE WHEN h.hazard_type LIKE 'landslide%' THEN h.id::text
              ELSE 'layer:' || h.layer_id || ':' || h.hazard_type END AS region_id,
         CASE h.hazard_type WHEN 'landslide_warning' THEN '土砂災害警戒区域'
              WHEN 'landslide_special' THEN '土砂災害特別警戒区域' WHEN 'flood' THEN '洪水浸水想定区域'
              ELSE '内水浸水想定区域' END
           || CASE WHEN h.hazard_type LIKE 'landslide%' AND h.name <> '' THEN ' ' || h.name ELSE '' END
           AS region_name
    FROM fresh f
    JOIN gis.hazard_area h ON ST_Intersects(h.geom, f.pt)
    JOIN gis.layer ly ON ly.id = h.layer_id AND ly.deleted_at IS NULL
  UNION
  SELECT f.device_id, 'shelter', s.id::text, s.name
    FROM fresh f
    JOIN gis.shelter s ON s.geom && ST_Expand(f.pt, :radius / 50000.0)
     AND ST_DWithin(s.geom::geography, f.pt::geography, :radius)
    JOIN gis.layer ly ON ly.id = s.layer_id AND ly.deleted_at IS NULL
), entered AS (
  SELECT i.*, f.ts, f.pt FROM inside i JOIN fresh f USING (device_id)
   WHERE NOT EXISTS (SELECT 1 FROM sensor.unit_zone z WHERE z.device_id = i.device_id
                        AND z.region_kind = i.region_kind AND z.region_id = i.region_id)
), left_zones AS (
  SELECT z.device_id, z.region_kind, z.region_id, z.region_name, f.ts, f.pt
    FROM sensor.unit_zone z JOIN fresh f USING (device_id)
   WHERE NOT EXISTS (SELECT 1 FROM inside i WHERE i.device_id = z.device_id
                        AND i.region_kind = z.region_kind AND i.region_id = z.region_id)
), gone AS (
  DELETE FROM sensor.unit_zone z USING left_zones l
   WHERE z.device_id = l.device_id AND z.region_kind = l.region_kind AND z.region_id = l.region_id
), added AS (
  INSERT INTO sensor.unit_zone (device_id, region_kind, region_id, region_name, since)
  SELECT device_id, region_kind, region_id, region_name, ts FROM entered
), marked AS (
  UPDATE sensor.device_status s SET zones_at = f.ts FROM fresh f WHERE s.device_id = f.device_id
)
INSERT INTO sensor.geofence_event (device_id, event, region_kind, region_id, region_name, at, source, geom)
SELECT device_id, 'leave', region_kind, region_id, region_name, ts, 'position', pt FROM left_zones
UNION ALL  -- leaving first: a unit steps from one zone into the next at one fix
SELECT device_id, 'enter', region_kind, region_id, region_name, ts, 'position', pt FROM entered
ON CONFLICT DO NOTHING
"""
)


def track_zones(conn: Connection, positions: Sequence[RadioPosition]) -> None:
    """Enter / leave events from the batch's positions (one statement; see the module's note).
    Call after the devices' status rows are written (``touch_devices``)."""
    usable = [p for p in positions if p.accuracy_m is None or p.accuracy_m <= MAX_ACCURACY_M]
    if usable:
        conn.execute(
            _ZONES,
            {
                "ids": [p.device_id for p in usable],
                "ts": [p.device_ts for p in usable],
                "lons": [p.lon for p in usable],
                "lats": [p.lat for p in usable],
                "radius": SHELTER_RADIUS_M,
            },
        )


MAX_LIST = 1000
_LIST = text(
    """SELECT e.id, e.device_id AS unit_id, d.name AS unit_name, e.event, e.region_kind, e.region_id,
              e.region_name, e.at, e.received_at, e.source,
              ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat
         FROM sensor.geofence_event e JOIN sensor.device d ON d.id = e.device_id
        WHERE (CAST(:unit AS text) IS NULL OR e.device_id = CAST(:unit AS text))
          AND (CAST(:since AS timestamptz) IS NULL OR e.at >= CAST(:since AS timestamptz))
        ORDER BY e.at DESC, e.id DESC
        LIMIT :limit"""
)


def list_events(conn: Connection, unit: str | None, since: datetime | None, limit: int = 200) -> list[dict]:
    """Geofence events, newest first, of one unit and / or since a time."""
    return [dict(r._mapping) for r in conn.execute(_LIST, {"unit": unit, "since": since, "limit": limit})]
