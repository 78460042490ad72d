"""Radio units (無線機) for the HQ map: where every unit is (or was at time T), and one unit's track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from sqlalchemy import Connection, text

from gisapp.deps import ConnDep, HQUser
from common.errors import InvalidInput, NotFound

router = APIRouter(prefix="/api/radio-units", tags=["radio units"])

MAX_TRACK = timedelta(days=7)
DEFAULT_TRACK = timedelta(hours=2)

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


@router.get("", summary="Latest position of every radio unit / 無線機の最新位置")
def latest_positions(conn: ConnDep, user: HQUser) -> dict:
    return unit_positions(conn)


@router.get("/at", summary="Where every unit was at time T / 時刻 T の各無線機の位置")
def positions_at(
    conn: ConnDep,
    user: HQUser,
    t: Annotated[AwareDatetime, Query(description="ISO 8601 with offset, e.g. 2026-11-21T09:00:00+09:00")],
) -> dict:
    """Each unit's last reported position at or before T (its ``device_ts`` tells how old it was)."""
    return unit_positions(conn, t)


@router.get("/{device_id}/track", summary="One unit's track / 無線機の移動経路")
def track(
    device_id: str,
    conn: ConnDep,
    user: HQUser,
    since: Annotated[
        AwareDatetime | None, Query(alias="from", description="default: 2 hours before `to`")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to", description="default: now")] = None,
) -> dict:
    until = until or datetime.now(UTC)
    since = since or until - DEFAULT_TRACK
    if since > until:
        raise InvalidInput("from は to より前にしてください。", "`from` must be before `to`.")
    if until - since > MAX_TRACK:
        raise InvalidInput("期間は 7 日以内にしてください。", "The period may be at most 7 days.")
    found = conn.execute(
        _TRACK, {"device_id": device_id, "since": since, "until": until}
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("無線機が見つかりません。", "Radio unit not found.")
    return found
