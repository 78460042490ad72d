"""Radio units (無線機): where every unit is (or was at time T), and one unit's track."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from gisapp.ops.errors import OpsNotFound

# Each unit's last position at or before :t (None: the latest), one index probe per unit on the
# primary key (device_id, device_ts).
_POSITIONS = text(
    """SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
         json_build_object('type', 'Feature', 'id', d.id,
           'geometry', ST_AsGeoJSON(p.geom, 7)::json,
           'properties', json_build_object('device_id', d.id, 'name', d.name,
              'device_ts', p.device_ts, 'received_at', p.received_at,
              'battery_pct', p.battery_pct, 'speed_kmh', p.speed_kmh))
         ORDER BY d.id), '[]'::json))
       FROM sensor.device d
       JOIN LATERAL (SELECT * FROM sensor.radio_position rp
                     WHERE rp.device_id = d.id
                       AND rp.device_ts <= coalesce(CAST(:t AS timestamptz), 'infinity')
                     ORDER BY rp.device_ts DESC LIMIT 1) p ON true
       WHERE d.kind = 'radio_unit' AND d.enabled"""
)

_TRACK = text(
    """SELECT json_build_object('type', 'FeatureCollection',
         'device_id', d.id, 'name', d.name, 'from', CAST(:since AS timestamptz), 'to', CAST(:until AS timestamptz),
         'features', coalesce((
           SELECT json_agg(json_build_object('type', 'Feature',
                    'geometry', ST_AsGeoJSON(p.geom, 7)::json,
                    'properties', json_build_object('device_ts', p.device_ts, 'speed_kmh', p.speed_kmh,
                                                    'course_deg', p.course_deg, 'accuracy_m', p.accuracy_m))
                  ORDER BY p.device_ts)
           FROM sensor.radio_position p
           WHERE p.device_id = d.id AND p.device_ts BETWEEN :since AND :until), '[]'::json))
       FROM sensor.device d WHERE d.id = :device_id AND d.kind = 'radio_unit'"""
)


def unit_positions(conn: Connection, t: datetime | None = None) -> dict:
    """Every enabled unit's last position at or before `t` (None: the latest), as GeoJSON."""
    return conn.execute(_POSITIONS, {"t": t}).scalar_one()


def track(conn: Connection, device_id: str, since: datetime, until: datetime) -> dict:
    """One unit's positions between ``since`` and ``until`` (GeoJSON); 404 for an unknown unit."""
    found = conn.execute(
        _TRACK, {"device_id": device_id, "since": since, "until": until}
    ).scalar_one_or_none()
    if found is None:
        raise OpsNotFound("無線機が見つかりません。", "Radio unit not found.")
    return found
