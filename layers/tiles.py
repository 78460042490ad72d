"""Mapbox Vector Tiles of a layer, made by PostGIS (``ST_AsMVT``), and the tile cache.

One statement per tile, fixed per (instance, kind); z/x/y and the layer id are bound parameters.
Restricted layers (要支援者 and any other ``restricted`` layer) are never tiled: a tile cannot be
audited per person shown, so :func:`tileable_layer` answers None for them exactly as for an unknown
layer. The cache key carries the layer revision (bumped by triggers on every feature change), so a
changed layer is served fresh at once; the older tiles of that layer are dropped when a newer
revision is first seen.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import Connection, TextClause, text

from layers.catalog import (
    KINDS,
    KindTable,
    Layer,
    Visibility,
    get_layer,
    get_public_layer,
    list_layers,
    list_public_layers,
)

TILE_EXTENT = 4096  # MVT grid per tile side
TILE_BUFFER = 64  # grid cells kept beyond the tile edge, so lines and labels join across tiles
MAX_ZOOM = 22
WEB_MERCATOR_HALF = 20037508.342789244  # metres, EPSG:3857 half world width
METRES_PER_DEGREE = WEB_MERCATOR_HALF / 180  # EPSG:3857 x metres per degree of longitude
MVT = "application/vnd.mapbox-vector-tile"
MAX_AGE = 60  # seconds a client may reuse a tile without asking
STYLE_VERSION = "3"  # part of ETags: bump when the SQL below changes what a tile contains

# Feature cap by zoom (the first row whose zoom is >= z): low zooms stay small. Features smaller
# than a grid cell are skipped first (they would not show), so the cap goes to visible ones.
FEATURE_CAP: tuple[tuple[int, int], ...] = ((5, 1_000), (8, 2_500), (10, 5_000), (12, 10_000), (14, 20_000))
MAX_FEATURES = 50_000
# numeric(…) columns: MVT has no decimal type, so they are sent as doubles rather than strings.
FLOAT_COLUMNS = frozenset({"width_m", "length_m"})
POINT_KINDS = frozenset({"shelter"})  # nothing to simplify


def feature_cap(z: int) -> int:
    for zoom, cap in FEATURE_CAP:
        if z <= zoom:
            return cap
    return MAX_FEATURES


def pixel_size(z: int) -> float:
    """Size in EPSG:3857 metres of one MVT grid cell at zoom z (the simplification tolerance)."""
    return 2 * WEB_MERCATOR_HALF / (2**z) / TILE_EXTENT


def valid_tile(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


# --- the tileable layer, with its revision (one indexed lookup by slug per request) -------------
def tileable(layer: Layer | None) -> Layer | None:
    # Restricted layers (and kinds that can never be published) are never tiled.
    if layer is None or layer.visibility == Visibility.restricted:
        return None
    kind = KINDS.get(layer.kind)
    return layer if kind is not None and kind.public_view is not None else None


def is_tileable(layer: Layer) -> bool:
    """Whether a visible layer has tiles at all (the API definition lists their paths)."""
    return tileable(layer) is not None


def published_tile_layers(rows: Iterable[dict]) -> dict[str, Layer]:
    """The warm-tile fast path's directory (gisapp/ogc/tiles_fast.py), from rows of
    ``catalog.PUBLIC_LAYERS_SQL``: what anonymous callers of either instance may have tiles of."""
    layers = (tileable(Layer(**row)) for row in rows)
    return {layer.slug: layer for layer in layers if layer is not None}


def tileable_layer(conn: Connection, slug: str, *, public: bool, roles: Iterable[str] | None) -> Layer | None:
    """The layer if this caller may have its tiles, else None (unknown and not allowed alike)."""
    layer = get_public_layer(conn, slug) if public else get_layer(conn, slug, roles)
    return tileable(layer)


# --- the properties a tile may carry (?properties=a,b) -----------------------------------------
Props = tuple[str, ...] | None  # None: every attribute; else the chosen names, sorted, no repeats
MAX_PROPERTY_NAME = 200
_NAMES: dict[tuple[bool, int], tuple[int, frozenset[str]]] = {}  # (public, layer) -> (revision, names)


def parse_properties(raw: str | None) -> Props:
    """``a,b`` -> ("a", "b") (order and repeats do not change a tile, so they do not split the cache);
    absent -> None (all); empty -> () (no attributes, geometry and id only)."""
    if raw is None:
        return None
    return tuple(sorted({p.strip() for p in raw.split(",") if p.strip()}))


def property_names(conn: Connection, layer: Layer, *, public: bool) -> frozenset[str]:
    """Every property name the layer's tiles can carry: typed columns and the JSONB keys its features
    use (cached per layer revision, which every feature change bumps)."""
    hit = _NAMES.get((public, layer.id))
    if hit and hit[0] == layer.revision:
        return hit[1]
    kind = KINDS[layer.kind]
    column = "properties" if kind.table == "gis.feature" else "attributes" if kind.has_attributes else None
    keys: set[str] = set(kind.properties)
    if column:
        stmt = text(
            f"SELECT DISTINCT k FROM {kind.source(public)} t, jsonb_object_keys(t.{column}) k"  # noqa: S608
            " WHERE t.layer_id = :layer_id"
        )
        keys.update(conn.execute(stmt, {"layer_id": layer.id}).scalars())
    names = frozenset(keys)
    _NAMES[(public, layer.id)] = (layer.revision, names)
    return names


def unknown_properties(conn: Connection, layer: Layer, props: Props, *, public: bool) -> list[str]:
    """The chosen names the layer does not have (the route answers 400 naming them)."""
    if not props:
        return []
    known = property_names(conn, layer, public=public)
    return [p for p in props if p not in known or len(p) > MAX_PROPERTY_NAME]


def tileable_layers(conn: Connection, *, public: bool, roles: Iterable[str] | None) -> list[Layer]:
    """Every layer this caller may have tiles of (the whole-map style, gisapp/ogc/styles.py)."""
    layers = list_public_layers(conn) if public else list_layers(conn, roles)
    return [layer for layer in map(tileable, layers) if layer is not None]


# --- the tile statement ------------------------------------------------------------------------
# Every source attribute goes in the tile (as tipg does), or those chosen with ?properties=a,b.
# Generic layers keep them in JSONB (``properties``), typed kinds keep extra source columns (日付, 地域…)
# in ``attributes`` beside their typed columns. ST_AsMVT (PostGIS >= 3.0) adds the keys of a jsonb
# column as feature properties, typed by the JSON value: string, bool, int (a number without a
# fraction) or double; JSON null is left out. It skips nested objects and arrays, so those are turned
# into their JSON text first, only in rows that have any (a jsonpath test, cheap on flat rows).
_NESTED = """'$.* ? (@.type() == "object" || @.type() == "array")'"""
_FLAT_VALUE = (
    "CASE WHEN jsonb_typeof(e.value) IN ('object', 'array') THEN to_jsonb(e.value::text) ELSE e.value END"
)


def _jsonb_all(column: str, drop: tuple[str, ...]) -> str:
    """Every key of the JSONB column (but ``drop``: typed columns win over a same-named extra)."""
    source = f"t.{column}" + (f" - '{{{','.join(drop)}}}'::text[]" if drop else "")
    flat = f"(SELECT jsonb_object_agg(e.key, {_FLAT_VALUE}) FROM jsonb_each({source}) e)"  # noqa: S608
    # Most rows of a typed ledger have no extra attributes: nothing to test or subtract for them.
    return f"CASE WHEN t.{column} = '{{}}'::jsonb THEN NULL WHEN t.{column} @? {_NESTED} THEN {flat} ELSE {source} END"


def _jsonb_chosen(column: str, drop: tuple[str, ...]) -> str:
    """The chosen keys (bound :props) of the JSONB column; '{}' when the row has none of them."""
    unless = f" AND NOT e.key = ANY('{{{','.join(drop)}}}'::text[])" if drop else ""
    return (
        f"coalesce((SELECT jsonb_object_agg(e.key, {_FLAT_VALUE}) FROM jsonb_each(t.{column}) e"  # noqa: S608
        f" WHERE e.key = ANY(CAST(:props AS text[])){unless}), '{{}}'::jsonb)"
    )


def _property_columns(kind: KindTable, chosen: bool) -> list[str]:
    """The select list of tile properties over the source row ``t`` (names from KINDS only)."""
    if kind.table == "gis.feature":
        return [(_jsonb_chosen if chosen else _jsonb_all)("properties", ()) + " AS jsonb_properties"]
    cols = []
    for c in kind.properties:
        expr = f"t.{c}::float8" if c in FLOAT_COLUMNS else f"t.{c}"
        cols.append(f"CASE WHEN '{c}' = ANY(CAST(:props AS text[])) THEN {expr} END" if chosen else expr)
    cols = [f'{e} AS "{c}"' for e, c in zip(cols, kind.properties, strict=True)]
    if kind.has_attributes:
        attrs = (_jsonb_chosen if chosen else _jsonb_all)("attributes", kind.properties)
        cols.append(f"{attrs} AS jsonb_attributes")
    return cols


def _tile_sql(kind_name: str, kind: KindTable, public: bool, chosen: bool) -> TextClause:
    # Composed from the constants above only (table, view and column names of KINDS); every value is
    # a bound parameter. The envelope is transformed to 4326 once, so the GiST index on geom is used
    # (on the public instance too: the pub views are no security barriers since migration 0004); the
    # rows inside come with their Web Mercator copy (geom_3857, migration 0006), simplified to the grid
    # cell and clipped.
    mvt_cols = ", ".join(["t.id", *_property_columns(kind, chosen)])
    # From the box stored with the geometry (box2d), read once per row; no full deserialisation.
    size = (
        "(ST_XMax(t.geom::box2d) - ST_XMin(t.geom::box2d) + ST_YMax(t.geom::box2d) - ST_YMin(t.geom::box2d))"
    )
    if kind_name in POINT_KINDS:
        geom3857, visible = "t.geom_3857", ""
    else:
        geom3857 = "ST_Simplify(t.geom_3857, CAST(:tolerance AS float8))"
        # A line or polygon smaller than one grid cell would collapse in ST_AsMVTGeom: skip it before
        # it costs any work or takes a place under the cap.
        visible = f" AND {size} >= CAST(:min_size AS float8)"
        if kind.table == "gis.feature":
            geom3857 = (
                "CASE WHEN ST_Dimension(t.geom) = 0 THEN t.geom_3857"
                " ELSE ST_Simplify(t.geom_3857, CAST(:tolerance AS float8)) END"
            )
            visible = f" AND (ST_Dimension(t.geom) = 0 OR {size} >= CAST(:min_size AS float8))"
    # No ORDER BY: under the cap, rows come in the scan's (physical) order, which is stable for one
    # revision (render_tile turns parallel plans off); sorting all candidates cost 3x at z10 (measured).
    # ST_AsMVT skips rows whose geometry collapsed to NULL; a `WHERE geom IS NOT NULL` here would make
    # PostgreSQL compute ST_AsMVTGeom twice per row.
    sql = f"""
WITH b AS (
  SELECT ST_TileEnvelope(CAST(:z AS int), CAST(:x AS int), CAST(:y AS int)) AS env,
         ST_Transform(ST_TileEnvelope(CAST(:z AS int), CAST(:x AS int), CAST(:y AS int),
                                      margin => CAST(:margin AS float8)), 4326) AS env4326
), mvt AS (
  SELECT ST_AsMVTGeom({geom3857}, b.env, {TILE_EXTENT}, {TILE_BUFFER}, true) AS geom, {mvt_cols}
  FROM {kind.source(public)} t, b
  WHERE t.layer_id = :layer_id AND t.geom && b.env4326{visible}
  LIMIT CAST(:cap AS int)
)
SELECT ST_AsMVT(mvt.*, CAST(:name AS text), {TILE_EXTENT}, 'geom', 'id') FROM mvt
"""  # noqa: S608
    return text(sql)


_TILES: dict[tuple[bool, str, bool], TextClause] = {
    (public, name, chosen): _tile_sql(name, kind, public, chosen)
    for name, kind in KINDS.items()
    for public in (False, True)
    for chosen in (False, True)
    if kind.public_view is not None
}


_SESSION = text("SELECT set_config('max_parallel_workers_per_gather', '0', true)")


def render_tile(
    conn: Connection, layer: Layer, z: int, x: int, y: int, *, public: bool, props: Props = None
) -> bytes:
    """The MVT bytes of one tile (b"" when no feature falls in it). The MVT layer name is the slug.
    ``props``: the attributes to include (None: all), already checked by :func:`check_properties`."""
    params: dict = {
        "z": z,
        "x": x,
        "y": y,
        "margin": TILE_BUFFER / TILE_EXTENT,
        "layer_id": layer.id,
        "cap": feature_cap(z),
        "name": layer.slug,
    }
    stmt = _TILES[(public, layer.kind, props is not None)]
    if props is not None:
        params["props"] = list(props)
    if ":tolerance AS" in stmt.text:
        params["tolerance"] = pixel_size(z)
        # One grid cell in degrees of longitude (Web Mercator x is proportional to longitude).
        params["min_size"] = pixel_size(z) / METRES_PER_DEGREE
    # A parallel plan could return another subset under the cap for the same revision (and ETag).
    # (JIT is off for every connection of the app, and the citizen-facing instance's connections
    # never plan parallel work at all: gisapp/db.py. The internal app's may, so it is said here.)
    if not public:
        conn.execute(_SESSION)
    data = conn.execute(stmt, params).scalar_one()
    return bytes(data or b"")


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or tag in candidates


def etag(layer: Layer, z: int, x: int, y: int, *, public: bool, props: Props = None) -> str:
    instance = "public" if public else "internal"
    key = f"{STYLE_VERSION}:{layer.id}:{layer.revision}:{z}:{x}:{y}:{instance}"
    if props is not None:  # NUL cannot be in a property name: the joined names stay unambiguous
        key += ":props:" + "\0".join(props)
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


_EXTENT: dict[str, TextClause] = {
    f"{public}:{name}": text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM"  # noqa: S608 (constant names)
        f" (SELECT ST_Extent(geom) AS e FROM {kind.source(public)} WHERE layer_id = :layer_id) s"
    )
    for name, kind in KINDS.items()
    for public in (False, True)
    if kind.public_view is not None
}


def layer_bounds(conn: Connection, layer: Layer, *, public: bool) -> list[float] | None:
    """[west, south, east, north] in degrees, or None for an empty layer."""
    row = conn.execute(_EXTENT[f"{public}:{layer.kind}"], {"layer_id": layer.id}).first()
    return None if row is None or row[0] is None else [round(float(v), 7) for v in row]


# --- the server-side cache ----------------------------------------------------------------------
class TileCache:
    """In-process LRU of tile bytes within a byte budget. Keys carry the layer revision; when a newer
    revision of a layer is seen, that layer's older tiles are dropped so they do not hold the budget."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = self.misses = 0
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._revisions: dict[tuple[bool, int], int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(layer: Layer, z: int, x: int, y: int, public: bool, props: Props = None) -> tuple:
        return (public, layer.id, layer.revision, z, x, y, props)

    def get(self, layer: Layer, z: int, x: int, y: int, public: bool, props: Props = None) -> bytes | None:
        k = self.key(layer, z, x, y, public, props)
        with self._lock:
            self._see_revision(public, layer)
            data = self._items.get(k)
            if data is None:
                self.misses += 1
                return None
            self._items.move_to_end(k)
            self.hits += 1
            return data

    def put(
        self, layer: Layer, z: int, x: int, y: int, public: bool, data: bytes, props: Props = None
    ) -> None:
        if len(data) > self.max_bytes // 8:
            return  # one huge tile must not flush everything else
        k = self.key(layer, z, x, y, public, props)
        with self._lock:
            if self._revisions.get((public, layer.id), layer.revision) > layer.revision:
                return  # rendered from an older revision than one already seen
            old = self._items.pop(k, None)
            self.bytes += len(data) - (len(old) if old is not None else 0)
            self._items[k] = data
            while self.bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= len(dropped)

    def _see_revision(self, public: bool, layer: Layer) -> None:
        seen = self._revisions.get((public, layer.id))
        if seen is not None and seen >= layer.revision:
            return
        self._revisions[(public, layer.id)] = layer.revision
        if seen is not None:
            for k in [
                k for k in self._items if k[0] == public and k[1] == layer.id and k[2] < layer.revision
            ]:
                self.bytes -= len(self._items.pop(k))

    def revisions_held(self, layer_id: int, public: bool) -> set[int]:
        """The revisions of a layer that have tiles in the cache (at most one once a newer is seen)."""
        with self._lock:
            return {k[2] for k in self._items if k[0] == public and k[1] == layer_id}

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._revisions.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)
