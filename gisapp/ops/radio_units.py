"""Radio units (無線機): where every unit is (or was at time T), and one unit's track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from gisapp.ops.errors import OpsInvalid, OpsNotFound

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


# ----------------------------------------------------------------------------- track on demand
MAX_TRACK_SPAN = timedelta(days=7)
TRACK_POINTS = 1000  # at most this many vertices drawn, whatever the span
SIMPLIFY_M = 5.0  # vertices closer than this to the line through their neighbours are left out

# Thinned, then simplified: over a long span the positions are first kept one per time bucket (the
# last of each; span / TRACK_POINTS long), so the answer is bounded before any geometry is built;
# then ST_Simplify drops the vertices that do not change the line by more than SIMPLIFY_M (in
# degrees of latitude: about right for the short distances of one city). M carries each vertex's time.
_TRACK_LINE = text(
    """WITH raw AS (
         SELECT geom, device_ts FROM sensor.radio_position
          WHERE device_id = :d AND device_ts BETWEEN :since AND :until),
       thin AS (SELECT DISTINCT ON (bucket) geom, device_ts
                  FROM (SELECT geom, device_ts,
                               CASE WHEN CAST(:bucket_s AS float8) > 0
                                    THEN floor(extract(epoch FROM device_ts) / CAST(:bucket_s AS float8))
                                    ELSE CAST(extract(epoch FROM device_ts) AS float8) END AS bucket FROM raw) b
                 ORDER BY bucket, device_ts DESC),
       line AS (
         SELECT ST_MakeLine(ST_MakePointM(ST_X(geom), ST_Y(geom), extract(epoch FROM device_ts))
                            ORDER BY device_ts) AS g
           FROM thin),
       simple AS (SELECT ST_Simplify(g, CAST(:tol AS float8), true) AS g FROM line)
       SELECT (SELECT count(*) FROM raw) AS positions,
              (SELECT min(device_ts) FROM raw) AS first_ts,
              (SELECT max(device_ts) FROM raw) AS last_ts,
              (SELECT json_agg(json_build_array(round(ST_X(dp.geom)::numeric, 7), round(ST_Y(dp.geom)::numeric, 7),
                                                 ST_M(dp.geom)) ORDER BY dp.path)
                 FROM simple, ST_DumpPoints(simple.g) dp) AS vertices"""
)
_UNIT = text("SELECT name FROM sensor.device WHERE id = :d AND kind = 'radio_unit'")


def track_line(conn: Connection, device_id: str, since: datetime, until: datetime) -> dict:
    """One unit's track between ``since`` and ``until`` as a GeoJSON Feature: a LineString (a Point
    for one position, no geometry for none), its vertices' times in ``properties.times``, at most
    TRACK_POINTS vertices (``simplified`` says when positions were left out). 404 for an unknown
    unit; 422 for a reversed or too long period."""
    if since > until:
        raise OpsInvalid("from は to より前にしてください。", "`from` must be before `to`.", field="from")
    if until - since > MAX_TRACK_SPAN:
        raise OpsInvalid("期間は 7 日以内にしてください。", "The period may be at most 7 days.", field="from")
    name = conn.execute(_UNIT, {"d": device_id}).scalar_one_or_none()
    if name is None:
        raise OpsNotFound("無線機が見つかりません。", "Radio unit not found.", unit_id=device_id)
    bucket_s = (until - since).total_seconds() / TRACK_POINTS
    row = conn.execute(
        _TRACK_LINE,
        {"d": device_id, "since": since, "until": until, "bucket_s": bucket_s if bucket_s >= 1 else 0,
         "tol": SIMPLIFY_M / 111_320},
    ).one()  # fmt: skip
    vertices = row.vertices or []
    coords = [[float(x), float(y)] for x, y, _m in vertices]
    times = [datetime.fromtimestamp(m, UTC).isoformat() for _x, _y, m in vertices]
    geometry = (
        None if not coords
        else {"type": "Point", "coordinates": coords[0]} if len(coords) == 1
        else {"type": "LineString", "coordinates": coords}
    )  # fmt: skip
    return {
        "type": "Feature",
        "id": device_id,
        "geometry": geometry,
        "properties": {
            "device_id": device_id,
            "name": name,
            "from": since.isoformat(),
            "to": until.isoformat(),
            "positions": row.positions,
            "vertices": len(coords),
            "simplified": len(coords) < row.positions,
            "first_ts": row.first_ts.isoformat() if row.first_ts else None,
            "last_ts": row.last_ts.isoformat() if row.last_ts else None,
            "times": times,
        },
    }
