"""Road-network routing on the road ledger (道路台帳): the nearest road segment to a point, and the
nearest available radio units to an incident by road distance with an ETA.

The network (``gis.road_edge`` / ``gis.road_vertex``) is kept in step with ``gis.road_segment`` by
triggers (migration 0012). Closed segments (``gis.road_closure``) are left out, and so are the
segments of a deleted road layer (in its restore window, migration 0020). A unit the network
cannot route (too far from any open road, or no path) falls back to the straight-line
distance, with a detour factor for its ETA. See docs/routing.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from psycopg import errors as pg_errors
from sqlalchemy import Connection, text
from sqlalchemy.exc import ProgrammingError

# Road distance / straight-line distance on a typical Japanese town grid; used for the ETA of a
# unit the network cannot route, so it is neither favoured nor hidden.
STRAIGHT_LINE_DETOUR = 1.4
# A point further than this from every open road is "off the network".
MAX_SNAP_M = 300.0

Method = Literal["road", "straight_line"]


class RoutingUnavailable(RuntimeError):
    """pgRouting is missing from the database: a superuser must create it (docs/routing.md)."""

    def __init__(self) -> None:
        super().__init__(
            "pgRouting がありません（CREATE EXTENSION pgrouting を管理者が実行してください）/ "
            "pgRouting is not installed: a superuser must run CREATE EXTENSION pgrouting"
        )


@dataclass(frozen=True)
class NearestRoad:
    id: int
    route_no: str  # 路線番号
    route_name: str  # 路線名
    distance_m: float


@dataclass(frozen=True)
class Recommendation:
    device_id: str
    name: str
    method: Method
    distance_m: float  # by road, or straight line when method is 'straight_line'
    straight_m: float
    eta_s: float
    lon: float
    lat: float
    position_ts: datetime

    def as_json(self) -> dict:
        return {
            "device_id": self.device_id,
            "name": self.name,
            "method": self.method,
            "distance_m": round(self.distance_m, 1),
            "straight_m": round(self.straight_m, 1),
            "eta_s": round(self.eta_s),
            "lon": self.lon,
            "lat": self.lat,
            "position_ts": self.position_ts.isoformat(),
        }


# KNN on the GiST index orders by planar degrees; the few nearest are re-ordered by geography.
_NEAREST_ROAD = text(
    """WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom)
       SELECT c.id, c.route_no, c.route_name, c.d
         FROM (SELECT r.id, r.route_no, r.route_name,
                      ST_Distance(CAST(r.geom AS geography), CAST(p.geom AS geography)) AS d
                 FROM gis.road_segment r, p
                WHERE NOT EXISTS (SELECT 1 FROM gis.layer l WHERE l.id = r.layer_id AND l.deleted_at IS NOT NULL)
                ORDER BY r.geom <-> p.geom LIMIT 8) c
        WHERE c.d <= :max_m ORDER BY c.d LIMIT 1"""
)


def nearest_road_segment(conn: Connection, lon: float, lat: float, max_m: float = 200) -> NearestRoad | None:
    """The road-ledger segment nearest to (lon, lat) within max_m metres, or None."""
    row = conn.execute(_NEAREST_ROAD, {"lon": lon, "lat": lat, "max_m": max_m}).one_or_none()
    return None if row is None else NearestRoad(row.id, row.route_no, row.route_name, float(row.d))


# Candidates: enabled radio units whose latest position (one probe per unit on the primary key)
# is recent enough.
_UNITS = """units AS (
  SELECT d.id AS device_id, d.name, p.geom, p.device_ts
    FROM sensor.device d
    JOIN LATERAL (SELECT rp.geom, rp.device_ts FROM sensor.radio_position rp
                   WHERE rp.device_id = d.id ORDER BY rp.device_ts DESC LIMIT 1) p ON true
   WHERE d.kind = 'radio_unit' AND d.enabled AND p.device_ts >= now() - :max_age
     AND d.id <> ALL(:exclude))"""

# Open edges, for pgRouting, reversed: one Dijkstra from the incident over the reversed graph gives
# every unit's distance *to* the incident, and stays right if one-way roads (reverse_cost -1) come.
_EDGES_REVERSED = (
    "SELECT e.id, e.target AS source, e.source AS target, e.reverse_cost AS cost, e.cost AS reverse_cost"
    " FROM gis.road_edge e WHERE NOT EXISTS (SELECT 1 FROM gis.road_closure c"
    " WHERE c.road_segment_id = e.road_segment_id AND c.reopened_at IS NULL)"
    # Segments of deleted layers: few or none (a partial index on gis.layer.deleted_at finds the layers).
    " AND e.road_segment_id NOT IN (SELECT r.id FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id"
    " WHERE l.deleted_at IS NOT NULL)"
)


# One round trip: snap the incident and every unit onto the nearest open edge (a leg in metres to
# the snap point, then along the edge to either end), route vertex to vertex with pgRouting, and
# take the shortest combination; a unit on the incident's own edge may go straight along it.
_ROAD = text(
    f"""WITH incident AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom), {_UNITS},
    pts AS (SELECT CAST(NULL AS text) AS device_id, geom FROM incident
            UNION ALL SELECT device_id, geom FROM units),
    snap AS (
      SELECT pts.device_id, s.edge_id, s.source, s.target, s.cost, s.leg_m,
             ST_Length(CAST(ST_LineSubstring(s.egeom, 0, ST_LineLocatePoint(s.egeom, pts.geom)) AS geography))
               AS along_m
        FROM pts CROSS JOIN LATERAL (
          SELECT k.* FROM (
            SELECT e.id AS edge_id, e.source, e.target, e.cost, e.geom AS egeom,
                   ST_Distance(CAST(e.geom AS geography), CAST(pts.geom AS geography)) AS leg_m
              FROM gis.road_edge e
             WHERE NOT EXISTS (SELECT 1 FROM gis.road_closure c
                                WHERE c.road_segment_id = e.road_segment_id AND c.reopened_at IS NULL)
               AND e.road_segment_id NOT IN (SELECT r.id FROM gis.road_segment r
                                              JOIN gis.layer l ON l.id = r.layer_id WHERE l.deleted_at IS NOT NULL)
             ORDER BY e.geom <-> pts.geom LIMIT 4) k
          ORDER BY k.leg_m LIMIT 1) s
       WHERE s.leg_m <= :max_snap_m),
    ends AS (
      SELECT device_id, source AS vid, leg_m + along_m AS m FROM snap
      UNION ALL SELECT device_id, target, leg_m + greatest(cost - along_m, 0) FROM snap),
    costs AS (
      SELECT start_vid, end_vid, agg_cost FROM pgr_dijkstraCost(
        :edges_sql,
        (SELECT array_agg(DISTINCT vid) FROM ends WHERE device_id IS NULL),
        (SELECT array_agg(DISTINCT vid) FROM ends WHERE device_id IS NOT NULL),
        directed => true)
      UNION ALL  -- pgRouting gives no row from a vertex to itself
      SELECT DISTINCT i.vid, i.vid, 0 FROM ends i JOIN ends u ON u.vid = i.vid
       WHERE i.device_id IS NULL AND u.device_id IS NOT NULL),
    road AS (
      SELECT u.device_id, min(i.m + c.agg_cost + u.m) AS road_m
        FROM ends i JOIN costs c ON c.start_vid = i.vid JOIN ends u ON u.vid = c.end_vid
       WHERE i.device_id IS NULL AND u.device_id IS NOT NULL
       GROUP BY u.device_id
      UNION ALL
      SELECT u.device_id, u.leg_m + abs(u.along_m - i.along_m) + i.leg_m
        FROM snap u JOIN snap i ON i.edge_id = u.edge_id
       WHERE i.device_id IS NULL AND u.device_id IS NOT NULL)
    SELECT u.device_id, u.name, ST_X(u.geom) AS lon, ST_Y(u.geom) AS lat, u.device_ts,
           ST_Distance(CAST(u.geom AS geography), CAST(i.geom AS geography)) AS straight_m,
           (SELECT min(r.road_m) FROM road r WHERE r.device_id = u.device_id) AS road_m
      FROM units u CROSS JOIN incident i"""  # noqa: S608 - constant CTEs, values are bound
)


def recommend_units(
    conn: Connection,
    lon: float,
    lat: float,
    *,
    limit: int = 5,
    speed_kmh: float = 30.0,
    exclude: Iterable[str] = frozenset(),
    max_age: timedelta = timedelta(minutes=30),
    max_snap_m: float = MAX_SNAP_M,
) -> list[Recommendation]:
    """The `limit` available radio units nearest to (lon, lat) by ETA: road distance over open
    roads where the network has a path, straight-line distance (× STRAIGHT_LINE_DETOUR for the ETA)
    where it has none. `exclude`: units already on an assignment."""
    if speed_kmh <= 0:
        raise ValueError("speed_kmh must be positive")
    params = {
        "lon": lon,
        "lat": lat,
        "max_age": max_age,
        "exclude": sorted(exclude),
        "max_snap_m": max_snap_m,
        "edges_sql": _EDGES_REVERSED,
    }
    try:
        rows = conn.execute(_ROAD, params).all()
    except ProgrammingError as e:
        if isinstance(e.orig, pg_errors.UndefinedFunction):
            raise RoutingUnavailable() from e
        raise
    speed_ms = speed_kmh / 3.6
    out = []
    for r in rows:
        method: Method = "road" if r.road_m is not None else "straight_line"
        distance = float(r.road_m) if r.road_m is not None else float(r.straight_m)
        travelled = distance if method == "road" else distance * STRAIGHT_LINE_DETOUR
        out.append(
            Recommendation(
                r.device_id,
                r.name,
                method,
                distance,
                float(r.straight_m),
                travelled / speed_ms,
                float(r.lon),
                float(r.lat),
                r.device_ts,
            )
        )
    out.sort(key=lambda rec: (rec.eta_s, rec.device_id))
    return out[:limit]
