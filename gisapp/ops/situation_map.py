"""The situation map (状況図) of a disaster at time T, as data for the printed map: what the HQ map
showed then — incidents with the status their events gave them (``incidents.state_at``), shelters open
at T with their counts at T, each radio unit's last position at or before T, road closures in force,
避難情報 in force — and the basemap from our own layers, all in the city's plane-rectangular zone.

``parse`` checks what a person asks for (paper, orientation, bounds, time) with messages in Japanese
and English; ``gather`` reads everything in one read-only transaction. The page is drawn by
gisapp/situation_pdf.py (words, symbols) with layers/printmap (reportlab).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from sqlalchemy import Connection, text

from gisapp.ops import incidents, radio_units
from gisapp.ops.disasters import get_disaster
from gisapp.ops.errors import OpsInvalid
from layers.basemap_file import BasemapFile
from layers.catalog import visible_levels
from layers.printmap import basemap as basemap_mod
from layers.printmap.file_basemap import read_file
from layers.printmap.frame import ORIENTATIONS, PAPERS, Frame, fit, plane_bounds, to_plane

# Bounds a printed city map may have: from a street (100 m) to a wide area (60 km across).
MIN_SPAN_M = 100
MAX_SPAN_M = 60_000
# What one page can carry legibly; beyond it, the most urgent are drawn and the rest counted.
MAX_INCIDENTS = 1_500
MAX_UNITS = 500
MAX_SHELTERS = 500
BASEMAP_LIMIT = 20_000  # features per basemap source
SIMPLIFY_MM = 0.2  # simplification tolerance, millimetres on paper
CLOCK_SKEW = timedelta(minutes=5)
# Which incident comes first when there are too many to draw: the open ones, then by priority.
_URGENCY = {"unhandled": 0, "in_progress": 1, "done": 2, "cancelled": 3}


@dataclass(frozen=True)
class PrintRequest:
    disaster_id: int
    at: datetime
    paper: str
    orientation: str
    bbox: tuple[float, float, float, float] | None  # lon/lat; None: the city's extent


def _invalid(ja: str, en: str, field_name: str) -> OpsInvalid:
    return OpsInvalid(ja, en, field=field_name)


def parse(
    disaster_id: int, at: datetime | None, paper: str, orientation: str, bbox: str | None, now: datetime
) -> PrintRequest:
    """The request as plain values; a wrong one is refused with what to send instead."""
    paper_u = paper.strip().upper()
    if paper_u not in PAPERS:
        raise _invalid("用紙は A3 または A4 を指定してください。", "paper must be A3 or A4.", "paper")
    orientation_l = orientation.strip().lower()
    if orientation_l not in ORIENTATIONS:
        raise _invalid(
            "向きは landscape（横）または portrait（縦）を指定してください。",
            "orientation must be landscape or portrait.",
            "orientation",
        )
    if at is None:
        at = now
    elif at.tzinfo is None:
        raise _invalid(
            "時刻はタイムゾーン付き（例: 2026-07-01T14:30:00+09:00）で指定してください。",
            "at needs a time zone offset (e.g. 2026-07-01T14:30:00+09:00).",
            "at",
        )
    elif _out_of_range(at):
        raise _invalid("時刻が範囲外です。", "at is out of range.", "at")
    elif at > now + CLOCK_SKEW:
        raise _invalid(
            "未来の時刻の状況図は作成できません。", "A situation map cannot be made for a future time.", "at"
        )
    return PrintRequest(disaster_id, at, paper_u, orientation_l, _parse_bbox(bbox) if bbox else None)


def _out_of_range(at: datetime) -> bool:
    # 0001-01-01T00:00+14:00 parses, but is before the first moment a datetime can hold in UTC.
    try:
        at.astimezone(UTC)
    except OverflowError:
        return True
    return False


def _parse_bbox(raw: str) -> tuple[float, float, float, float]:
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise _invalid(
            "範囲（bbox）は「西経度,南緯度,東経度,北緯度」の4つの数で指定してください。",
            "bbox must be four numbers: west,south,east,north (longitude/latitude).",
            "bbox",
        )
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise _invalid(
            "範囲（bbox）は西 < 東、南 < 北の経緯度で指定してください。",
            "bbox must have west < east and south < north, within ±180/±90.",
            "bbox",
        )
    # The plane-rectangular zones cover Japan; a box far outside would print a meaningless map.
    if not (122 <= west and east <= 154 and 20 <= south and north <= 46):
        raise _invalid("範囲（bbox）が日本の範囲外です。", "bbox lies outside Japan.", "bbox")
    return west, south, east, north


@dataclass
class Situation:
    """Everything drawn, in plane metres (zone ``frame.srid``), with the values the words need."""

    disaster: dict[str, Any]
    at: datetime
    frame: Frame
    incidents: list[dict[str, Any]] = field(default_factory=list)  # each with x, y
    incidents_outside: int = 0
    incidents_cut: int = 0
    shelters: list[dict[str, Any]] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=list)
    closures: list[dict[str, Any]] = field(default_factory=list)  # each with geometry
    orders: list[dict[str, Any]] = field(default_factory=list)  # each with geometry
    categories: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (ja, en)
    basemap: basemap_mod.Basemap = field(default_factory=basemap_mod.Basemap)

    @property
    def internal(self) -> bool:
        """Whether the sheet shows what only staff may read (取扱注意): incidents and units are the
        HQ's own records; a basemap layer may be internal too (sewers)."""
        return bool(self.incidents or self.units or self.basemap.internal or self.closures_internal)

    @property
    def closures_internal(self) -> bool:
        return any(c["internal"] for c in self.closures)

    @property
    def empty(self) -> bool:
        return not (self.incidents or self.shelters or self.units or self.closures or self.orders)


# The ground a sheet shows when no bbox is asked: the disaster's incidents, else the city's 町丁目, else
# its public roads (the first of these that has anything).
_DEFAULT_EXTENT = text(
    """SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
         SELECT (SELECT ST_Extent(geom) FROM ops.incident WHERE disaster_id = :d) AS e, 1 AS pick
         UNION ALL SELECT (SELECT ST_Extent(geom) FROM ops.evac_area), 2
         UNION ALL SELECT (SELECT ST_Extent(r.geom) FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id
                            WHERE l.visibility = 'public' AND l.deleted_at IS NULL), 3) x
        WHERE e IS NOT NULL ORDER BY pick LIMIT 1"""
)
# The default view when nothing is asked: the demo city (伊勢原市), as the web maps do.
_DEFAULT_BBOX = (139.26, 35.36, 139.34, 35.43)

_SHELTERS_AT = text(
    """SELECT s.id, s.name, s.capacity, ST_X(p) AS x, ST_Y(p) AS y, occ.n AS occupancy,
              ops.congestion_level(occ.n, s.capacity) AS level
         FROM ops.shelter_opening o
         JOIN gis.shelter s ON s.id = o.shelter_id
         JOIN gis.layer l ON l.id = s.layer_id AND l.visibility = ANY(:levels) AND l.deleted_at IS NULL
         CROSS JOIN LATERAL ST_Transform(s.geom, :srid) p
         CROSS JOIN LATERAL (SELECT coalesce((SELECT e.occupancy_after FROM ops.checkin_event e
                                               WHERE e.opening_id = o.id AND e.server_ts <= :t
                                               ORDER BY e.id DESC LIMIT 1), 0) AS n) occ
        WHERE o.disaster_id = :d AND o.opened_at <= :t AND (o.closed_at IS NULL OR o.closed_at > :t)
          AND ST_Intersects(p, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, :srid))
        ORDER BY s.code, s.id
        LIMIT :limit"""
)
_CLOSURES_AT = text(
    """SELECT c.id, r.route_name, c.closed_at, l.visibility <> 'public' AS internal,
              ST_AsBinary(ST_Simplify(ST_ClipByBox2D(ST_Transform(r.geom, :srid),
                                      ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, :srid)::box2d), :tolerance)) AS wkb
         FROM gis.road_closure c
         JOIN gis.road_segment r ON r.id = c.road_segment_id
         JOIN gis.layer l ON l.id = r.layer_id AND l.visibility = ANY(:levels)
                         AND l.visibility <> 'restricted' AND l.deleted_at IS NULL
        WHERE c.closed_at <= :t AND (c.reopened_at IS NULL OR c.reopened_at > :t)
          AND r.geom && ST_MakeEnvelope(:lon0, :lat0, :lon1, :lat1, 4326)
        ORDER BY c.closed_at, c.id"""
)
_CATEGORIES = text("SELECT code, name_ja, name_en FROM ops.incident_category")
# Each order's version in force at T (the last one by then); a cancelled one is no longer in force.
_ORDERS_AT = text(
    """SELECT order_id, level, hazard, area_names, wkb FROM (
         SELECT DISTINCT ON (v.order_id) v.order_id, v.version, v.action, v.level, v.hazard, v.area_names,
                ST_AsBinary(ST_Simplify(ST_ClipByBox2D(ST_Transform(v.geom, :srid),
                            ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, :srid)::box2d), :tolerance)) AS wkb
           FROM ops.evac_order_version v JOIN ops.evac_order o ON o.id = v.order_id
          WHERE v.at <= :t AND (o.disaster_id = :d OR o.disaster_id IS NULL)
            AND v.geom && ST_MakeEnvelope(:lon0, :lat0, :lon1, :lat1, 4326)
          ORDER BY v.order_id, v.version DESC) s
        WHERE action <> 'cancel'
        ORDER BY level, order_id"""
)


def frame_for(
    conn: Connection, req: PrintRequest, srid: int, rect: tuple[float, float, float, float]
) -> Frame:
    """The ground the sheet shows, fitted into the map rectangle ``rect`` of the page. An unknown
    disaster is a 404 before anything else; a bbox asked for and too wide is a 422, while the default
    ground (no bbox) is cut to the widest sheet around its centre instead."""
    get_disaster(conn, req.disaster_id)
    bbox = req.bbox
    if bbox is None:
        row = conn.execute(_DEFAULT_EXTENT, {"d": req.disaster_id}).first()
        bbox = tuple(row) if row is not None else _DEFAULT_BBOX
    bounds = plane_bounds(srid, bbox)
    span = max(bounds[2] - bounds[0], bounds[3] - bounds[1])
    if span > MAX_SPAN_M and req.bbox is None:
        cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        half = MAX_SPAN_M / 2
        bounds = (cx - half, cy - half, cx + half, cy + half)
    elif span > MAX_SPAN_M:
        raise _invalid(
            f"範囲（bbox）が広すぎます（{MAX_SPAN_M // 1000} km まで）。",
            f"bbox is too large (up to {MAX_SPAN_M // 1000} km across).",
            "bbox",
        )
    if span < MIN_SPAN_M:
        cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        bounds = (cx - MIN_SPAN_M / 2, cy - MIN_SPAN_M / 2, cx + MIN_SPAN_M / 2, cy + MIN_SPAN_M / 2)
    return fit(srid, bounds, *rect)


def gather(
    conn: Connection,
    roles: list[str],
    req: PrintRequest,
    frame: Frame,
    city_basemap: BasemapFile | None = None,
) -> Situation:
    """What the HQ map showed at ``req.at`` inside ``frame`` (read-only), over the city's basemap file
    when one is configured (drawn under our own layers)."""
    disaster = get_disaster(conn, req.disaster_id)
    srid = frame.srid
    tolerance = SIMPLIFY_MM / 1000 * frame.scale
    lonlat = frame.lonlat_bounds()
    plane = (frame.minx, frame.miny, frame.maxx, frame.maxy)
    box = {
        "srid": srid,
        "minx": plane[0],
        "miny": plane[1],
        "maxx": plane[2],
        "maxy": plane[3],
        "lon0": lonlat[0],
        "lat0": lonlat[1],
        "lon1": lonlat[2],
        "lat1": lonlat[3],
        "tolerance": tolerance,
        "levels": visible_levels(roles),
        "t": req.at,
        "d": req.disaster_id,
    }
    out = Situation(disaster=disaster, at=req.at, frame=frame)
    out.basemap = basemap_mod.read(
        conn, roles, srid=srid, plane=plane, lonlat=lonlat, tolerance=tolerance, limit=BASEMAP_LIMIT
    )
    if city_basemap is not None:
        shapes, cut = read_file(
            city_basemap,
            srid=srid,
            lonlat=lonlat,
            scale=frame.scale,
            tolerance=tolerance,
            limit=BASEMAP_LIMIT,
        )
        out.basemap.shapes[:0] = shapes  # under our own layers
        if cut:
            out.basemap.cut.append("file")
    inside = shapely.box(*plane)

    def within(lon: float, lat: float) -> tuple[float, float] | None:
        x, y = to_plane(srid, lon, lat)
        return (x, y) if inside.contains(shapely.Point(x, y)) else None

    for item in incidents.state_at(conn, req.disaster_id, req.at):
        at = within(item["lon"], item["lat"])
        if at is None:
            out.incidents_outside += 1
            continue
        out.incidents.append({**item, "x": at[0], "y": at[1]})
    out.incidents.sort(key=lambda i: (_URGENCY.get(i["status"], 9), i["priority"], i["id"]))
    if len(out.incidents) > MAX_INCIDENTS:
        out.incidents_cut = len(out.incidents) - MAX_INCIDENTS
        del out.incidents[MAX_INCIDENTS:]
    out.incidents.sort(key=lambda i: i["id"])
    out.categories = {r.code: (r.name_ja, r.name_en) for r in conn.execute(_CATEGORIES)}

    out.shelters = [dict(r._mapping) for r in conn.execute(_SHELTERS_AT, {**box, "limit": MAX_SHELTERS})]
    for feature in radio_units.unit_positions(conn, req.at)["features"][:MAX_UNITS]:
        lon, lat = feature["geometry"]["coordinates"][:2]
        at = within(lon, lat)
        if at is not None:
            props = feature["properties"]
            out.units.append({"device_id": props["device_id"], "name": props["name"], "x": at[0], "y": at[1]})
    for r in conn.execute(_CLOSURES_AT, box):
        geometry = shapely.from_wkb(bytes(r.wkb)) if r.wkb is not None else None
        if geometry is not None and not geometry.is_empty:
            out.closures.append(
                {"id": r.id, "route_name": r.route_name, "internal": r.internal, "geometry": geometry}
            )
    for r in conn.execute(_ORDERS_AT, box):
        geometry = shapely.from_wkb(bytes(r.wkb)) if r.wkb is not None else None
        if geometry is not None and not geometry.is_empty:
            out.orders.append(
                {"id": r.order_id, "level": r.level, "hazard": r.hazard, "areas": list(r.area_names),
                 "geometry": geometry}
            )  # fmt: skip
    return out


def now() -> datetime:
    return datetime.now(UTC)
