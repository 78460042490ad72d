"""The basemap of a printed map, from our own layers only (no tiles, no internet): roads (道路台帳),
sewers where the reader may see them, other line layers (rivers …), hazard areas and the 町丁目.

Bounded by the scale: each geometry is clipped to the frame and simplified to what the paper can
show (``tolerance``: a fraction of a millimetre on paper, in ground metres), pieces smaller than that
are dropped, and each source stops at ``limit`` features (the answer says which were cut). Restricted
layers (people, for example) are never drawn, whoever asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import shapely
from sqlalchemy import Connection, text

from layers.catalog import visible_levels

# source -> (the kind drawn, its name, its table and joins, extra condition); all constants.
_LAYER_JOIN = (
    "JOIN gis.layer l ON l.id = t.layer_id AND l.visibility = ANY(:levels)"
    " AND l.visibility <> 'restricted' AND l.deleted_at IS NULL"
)
_SOURCES: dict[str, tuple[str, str, str, str]] = {
    "hazard": ("'hazard:' || t.hazard_type", "t.name", "gis.hazard_area t " + _LAYER_JOIN, "true"),
    "area": ("'area'", "t.name", "ops.evac_area t", "true"),
    "line": (
        "'line'",
        "coalesce(t.properties->>'name', '')",
        "gis.feature t " + _LAYER_JOIN + " AND l.kind = 'generic'",
        "GeometryType(t.geom) IN ('LINESTRING', 'MULTILINESTRING')",
    ),
    "sewer": ("'sewer'", "t.pipe_no", "gis.sewer_pipe t " + _LAYER_JOIN, "true"),
    "road": ("'road'", "t.route_name", "gis.road_segment t " + _LAYER_JOIN, "true"),
}
# Drawing order, bottom first.
ORDER = tuple(_SOURCES)


def _query(source: str) -> object:
    kind, name, table, condition = _SOURCES[source]
    internal = "false" if source == "area" else "l.visibility <> 'public'"
    # ST_ClipByBox2D keeps the work proportional to what is on the page; ST_Simplify (not the
    # topology-preserving one) may collapse a piece to nothing, which is then dropped.
    return text(
        f"""SELECT kind, name, internal, ST_AsBinary(g) AS wkb,
                   CASE WHEN GeometryType(g) IN ('POLYGON', 'MULTIPOLYGON')
                        THEN ST_AsBinary(ST_PointOnSurface(g)) END AS label_at
              FROM (SELECT {kind} AS kind, {name} AS name, {internal} AS internal,
                           ST_Simplify(ST_ClipByBox2D(ST_Transform(t.geom, :srid),
                                                      ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, :srid)::box2d),
                                       :tolerance) AS g
                      FROM {table}
                     WHERE t.geom && ST_MakeEnvelope(:lon0, :lat0, :lon1, :lat1, 4326) AND {condition}
                     ORDER BY {"t.code" if source == "area" else "t.id"}) s
             WHERE g IS NOT NULL AND NOT ST_IsEmpty(g)
               AND CASE WHEN GeometryType(g) IN ('POLYGON', 'MULTIPOLYGON') THEN ST_Area(g) >= :min_area
                        WHEN GeometryType(g) IN ('LINESTRING', 'MULTILINESTRING') THEN ST_Length(g) >= :min_length
                        ELSE true END
             LIMIT :limit"""  # noqa: S608 - constant identifiers only, values bound
    )


_QUERIES = {source: _query(source) for source in _SOURCES}


@dataclass(frozen=True)
class Shape:
    kind: str  # road, sewer, line, area, hazard:<hazard_type>
    name: str
    geometry: shapely.Geometry  # plane metres
    label_at: shapely.Point | None
    internal: bool


@dataclass
class Basemap:
    shapes: list[Shape] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)  # sources that reached their limit

    @property
    def internal(self) -> bool:
        return any(s.internal for s in self.shapes)


def read(
    conn: Connection,
    roles: Iterable[str],
    *,
    srid: int,
    plane: tuple[float, float, float, float],
    lonlat: tuple[float, float, float, float],
    tolerance: float,
    limit: int,
) -> Basemap:
    """Every source's shapes inside ``plane`` (the frame, in the zone ``srid``; ``lonlat`` holds it),
    simplified to ``tolerance`` metres, at most ``limit`` per source."""
    params = {
        "srid": srid,
        "levels": visible_levels(roles),
        "minx": plane[0],
        "miny": plane[1],
        "maxx": plane[2],
        "maxy": plane[3],
        "lon0": lonlat[0],
        "lat0": lonlat[1],
        "lon1": lonlat[2],
        "lat1": lonlat[3],
        "tolerance": tolerance,
        "min_length": tolerance * 2,
        "min_area": (tolerance * 2) ** 2,
        "limit": limit + 1,
    }
    out = Basemap()
    for source in ORDER:
        rows = conn.execute(_QUERIES[source], params).all()
        if len(rows) > limit:
            out.cut.append(source)
            rows = rows[:limit]
        if not rows:
            continue
        geometries = shapely.from_wkb([bytes(r.wkb) for r in rows])
        for r, g in zip(rows, geometries, strict=True):
            label = shapely.from_wkb(bytes(r.label_at)) if r.label_at is not None else None
            out.shapes.append(Shape(r.kind, r.name or "", g, label, bool(r.internal)))
    return out
