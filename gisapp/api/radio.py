"""Radio units (無線機) for the HQ map."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from gisapp.deps import ConnDep, HQUser

router = APIRouter(prefix="/api/radio-units", tags=["radio units"])

_LATEST = text(
    """SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
         json_build_object('type', 'Feature', 'id', d.id,
           'geometry', ST_AsGeoJSON(p.geom, 7)::json,
           'properties', json_build_object('device_id', d.id, 'name', d.name,
              'device_ts', p.device_ts, 'received_at', p.received_at,
              'battery_pct', p.battery_pct, 'speed_kmh', p.speed_kmh))
         ORDER BY d.id), '[]'::json))
       FROM sensor.device d
       JOIN LATERAL (SELECT * FROM sensor.radio_position rp WHERE rp.device_id = d.id
                     ORDER BY rp.device_ts DESC LIMIT 1) p ON true
       WHERE d.kind = 'radio_unit' AND d.enabled"""
)


@router.get("", summary="Latest position of every radio unit / 無線機の最新位置")
def latest_positions(conn: ConnDep, user: HQUser) -> dict:
    return conn.execute(_LATEST).scalar_one()
