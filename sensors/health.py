"""Device health and gauge values for the HQ map: online, silent (quiet longer than its kind's limit),
offline (its last will came) or never heard; each gauge where it stands with its computed values."""

from __future__ import annotations

from sqlalchemy import Connection, text

# card_name: the name the unit's OwnTracks card gives (its crew's choice; ``name`` is the registry's).
_HEALTH = text(
    """SELECT h.device_id, h.kind, h.name, h.last_seen, h.last_will_at, h.state, s.card_name
         FROM sensor.device_health h LEFT JOIN sensor.device_status s USING (device_id)
        ORDER BY h.device_id"""
)

# Each gauge where it stands, with its computed values, its levels per measure and its health.
_GAUGES = text(
    """SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
         json_build_object('type', 'Feature', 'id', d.id,
           'geometry', ST_AsGeoJSON(d.location, 7)::json,
           'properties', json_build_object('device_id', d.id, 'name', d.name, 'kind', d.kind,
              'as_of', g.as_of, 'rain_10min', g.rain_10min, 'rain_60min', g.rain_60min,
              'continuous', g.continuous, 'continuous_since', g.continuous_since, 'level', g.level,
              'levels', coalesce(g.levels, '{}'::jsonb), 'state', h.state))
         ORDER BY d.id), '[]'::json))
       FROM sensor.device d
       JOIN sensor.device_health h ON h.device_id = d.id
       LEFT JOIN sensor.gauge_state g ON g.device_id = d.id
       WHERE d.kind IN ('rain_gauge', 'water_gauge')"""
)


def device_status(conn: Connection) -> list[dict]:
    return [
        {
            **r._mapping,
            "last_seen": r.last_seen.isoformat() if r.last_seen else None,
            "last_will_at": r.last_will_at.isoformat() if r.last_will_at else None,
        }
        for r in conn.execute(_HEALTH)
    ]


def gauges(conn: Connection) -> dict:
    """Rain and water-level gauges as a GeoJSON FeatureCollection."""
    return conn.execute(_GAUGES).scalar_one()
