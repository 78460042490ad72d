"""The SQL side of OGC API – Features: items, one item, extents and queryable properties.

Every statement is composed from the constants in ``layers.catalog.KINDS`` (tables, views, column
names) and nothing else; every value from a request is a bound parameter. PostGIS builds the GeoJSON
(``ST_AsGeoJSON`` per row, ``string_agg`` of the features' JSON texts per page) and the page comes back as one text value, so the web
layer never walks geometries in Python. The caller has already decided that the layer is visible.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, TextClause, text

from layers import cql_sql, rectangle
from layers.catalog import KINDS, KindTable, Layer
from layers.errors import LayerNotFound

# A feature timestamp, where a kind has one (datetime filters on it); other kinds have none.
TEMPORAL: dict[str, str] = {"person_needing_help": "updated_at"}
# Tables whose changes bump gis.layer.revision (migration 0002): only their extents may be cached.
_REVISIONED = frozenset(
    {"gis.feature", "gis.road_segment", "gis.hazard_area", "gis.shelter", "gis.sewer_pipe"}
)
_JSON_TYPES = {
    "text": "string",
    "character varying": "string",
    "integer": "integer",
    "bigint": "integer",
    "smallint": "integer",
    "numeric": "number",
    "real": "number",
    "double precision": "number",
    "boolean": "boolean",
}
_JSONB_TYPES = {"string": "string", "number": "number", "boolean": "boolean"}


@dataclass(frozen=True)
class ItemsQuery:
    """One items request, already validated. ``bbox`` is (xmin, ymin, xmax, ymax) in PostGIS order
    (x = easting/longitude) in ``bbox_srid``; ``filters`` are (property, value) with typed values."""

    layer: Layer
    public: bool
    srid: int = 4326
    flip: bool = False
    decimals: int = 7
    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    start: datetime | None = None
    end: datetime | None = None
    filters: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    limit: int = 10
    offset: int = 0
    # OGC API – Features Part 3: a CQL2 JSON filter, the CRS of its geometry literals, and the
    # queryables it (and sortby/properties) may name.
    cql: Any = None
    filter_srid: int = 4326
    filter_flip: bool = False
    queryables: Mapping[str, str | None] = field(default_factory=dict)
    sortby: tuple[tuple[str, bool], ...] = ()  # (property or "id", descending)
    properties: tuple[str, ...] | None = None  # None: every property
    skip_geometry: bool = False


def _spatial(tree: Any) -> bool:
    """Whether a CQL2 JSON filter holds a spatial predicate (S_INTERSECTS …): its matches come from the
    GiST index, so the items statement takes the one-scan form as with a bbox."""
    if isinstance(tree, dict):
        op = tree.get("op")
        if isinstance(op, str) and op.lower().startswith("s_"):
            return True
        return any(_spatial(v) for v in tree.values())
    if isinstance(tree, list):
        return any(_spatial(v) for v in tree)
    return False


def _kind(layer: Layer) -> KindTable:
    return KINDS[layer.kind]


def _properties_sql(kind: KindTable, only: tuple[str, ...] | None = None) -> str:
    """All properties, or ``only`` those (already checked against the queryables), as JSON text."""
    if kind.table == "gis.feature":
        if only is None:
            return "t.properties::text"
        # The names are bound (:props), never spliced.
        return (
            "(SELECT coalesce(jsonb_object_agg(p.k, p.v), '{}'::jsonb)"
            " FROM jsonb_each(t.properties) AS p(k, v) WHERE p.k = ANY(CAST(:props AS text[])))::text"
        )
    # Typed columns win over extra source attributes of the same name. json_build_object, not jsonb:
    # it writes the values as they are, where jsonb parses, sorts and dedups (twice the time per row);
    # jsonb only for the rows that have extra attributes to merge.
    columns = kind.properties if only is None else tuple(c for c in kind.properties if c in only)
    pairs = ", ".join(f"'{c}', t.{c}" for c in columns)
    typed = f"json_build_object({pairs})::text"
    if kind.has_attributes and only is None:
        return f"CASE WHEN t.attributes = '{{}}'::jsonb THEN {typed} ELSE (t.attributes || jsonb_build_object({pairs}))::text END"
    return typed


def _feature_sql(
    kind: KindTable, flip: bool, only: tuple[str, ...] | None = None, skip_geometry: bool = False
) -> str:
    """One feature as GeoJSON text, put together from JSON texts: ST_AsGeoJSON's (not parsed again
    into a json value) and the properties'. Every piece is JSON by construction: the id is a bigint,
    the geometry PostGIS's GeoJSON or null, the properties a JSON object's text."""
    geom = "ST_Transform(t.geom, CAST(:srid AS int))"
    if flip:
        geom = f"ST_FlipCoordinates({geom})"
    geometry = (
        "'null'" if skip_geometry else f"coalesce(ST_AsGeoJSON({geom}, CAST(:decimals AS int)), 'null')"
    )
    return (
        """'{"type": "Feature", "id": ' || t.id || ', "geometry": ' || """
        f"""{geometry} || ', "properties": ' || coalesce({_properties_sql(kind, only)}, 'null') || '}}'"""
    )


def _order_sql(q: ItemsQuery, kind: KindTable, params: dict[str, Any]) -> str:
    """sortby, then the id: the tie-breaker that keeps paging stable."""
    terms = []
    for i, (name, desc) in enumerate(q.sortby):
        direction = " DESC" if desc else ""
        if name == "id":
            terms.append(f"t.id{direction}")
        elif name == TEMPORAL.get(q.layer.kind):
            terms.append(f"t.{TEMPORAL[q.layer.kind]}{direction}")
        elif kind.table == "gis.feature":
            # jsonb order: numbers as numbers, strings as text, absent keys last.
            params[f"sk{i}"] = name
            terms.append(f"t.properties -> CAST(:sk{i} AS text){direction}")
        else:
            # The constant from KINDS (the caller checked the name against the queryables).
            column = next(c for c in kind.properties if c == name)
            terms.append(f"t.{column}{direction}")
    if not any(name == "id" for name, _ in q.sortby):
        terms.append("t.id")
    return ", ".join(terms)


def _where(q: ItemsQuery, kind: KindTable, params: dict[str, Any]) -> str:
    clauses = ["t.layer_id = :layer_id"]
    params["layer_id"] = q.layer.id
    if q.bbox is not None:
        x1, y1, x2, y2 = q.bbox
        # xmin > xmax: a lon/lat box across the antimeridian, i.e. two boxes meeting at ±180.
        boxes = [(x1, x2)] if x1 <= x2 else [(x1, 180.0), (-180.0, x2)]
        params.update(by1=y1, by2=y2, bsrid=q.bbox_srid)
        either = []
        for n, (left, right) in enumerate(boxes):
            params.update({f"bx1_{n}": left, f"bx2_{n}": right})
            envelope = (
                f"ST_Transform(ST_MakeEnvelope(:bx1_{n}, :by1, :bx2_{n}, :by2, CAST(:bsrid AS int)), 4326)"
            )
            # `&&` on the envelope uses the GiST index; ST_Intersects keeps the exact answer. A lon/lat
            # box is a rectangle in the stored CRS (one in another CRS is not, once transformed), so the
            # features inside it are answered from their boxes.
            inner = rectangle.inner_box(left, y1, right, y2) if q.bbox_srid == 4326 else None
            either.append(rectangle.intersects_sql(envelope, inner, _binder(params, f"bi{n}_")))
        clauses.append(f"({' OR '.join(either)})")
    column = TEMPORAL.get(q.layer.kind)
    if column and q.start is not None:
        clauses.append(f"t.{column} >= :t_start")
        params["t_start"] = q.start
    if column and q.end is not None:
        clauses.append(f"t.{column} <= :t_end")
        params["t_end"] = q.end
    for i, (name, value) in enumerate(q.filters):
        if kind.table == "gis.feature":
            # Generic layers: a JSONB key (bound too). Typed values compare as JSON values, so that
            # 3 matches 3.0 and true matches true; text compares as text.
            params[f"fk{i}"] = name
            if isinstance(value, str):
                clauses.append(f"t.properties ->> :fk{i} = :fv{i}")
                params[f"fv{i}"] = value
            else:
                clauses.append(f"t.properties -> :fk{i} = CAST(:fv{i} AS jsonb)")
                params[f"fv{i}"] = _json_literal(value)
        else:
            if name not in kind.properties:  # the caller validated; never compose an unknown name
                raise KeyError(name)
            clauses.append(f"t.{name} = :fv{i}")
            params[f"fv{i}"] = value
    if q.cql is not None:
        target = cql_sql.Target(kind, q.queryables, TEMPORAL.get(q.layer.kind), q.filter_srid, q.filter_flip)
        clauses.append(cql_sql.to_sql(q.cql, target, params))
    return " AND ".join(clauses)


@lru_cache(maxsize=512)
def _statement(sql: str) -> TextClause:
    """One TextClause per distinct items statement: a new one parses its parameters and computes its
    cache key again (80 µs, a tenth of a small page's Python); the statements repeat per query shape."""
    return text(sql)


def _binder(params: dict[str, Any], prefix: str) -> Callable[[float], str]:
    numbers = itertools.count()

    def bind(value: float) -> str:
        name = f"{prefix}{next(numbers)}"
        params[name] = value
        return f"CAST(:{name} AS float8)"

    return bind


def _json_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)  # int or Decimal: a JSON number as written


def items(conn: Connection, q: ItemsQuery) -> tuple[int, str]:
    """(numberMatched, the page's features as a JSON array text), in one statement."""
    kind = _kind(q.layer)
    src = kind.source(q.public)
    params: dict[str, Any] = {"srid": q.srid, "decimals": q.decimals, "limit": q.limit, "offset": q.offset}
    where = _where(q, kind, params)
    order = _order_sql(q, kind, params)
    if q.properties is not None:
        params["props"] = list(q.properties)
    feature = _feature_sql(kind, q.flip, q.properties, q.skip_geometry)
    # The page as one text: string_agg of the features' JSON texts (json_agg of json values, each
    # geometry parsed back from ST_AsGeoJSON's text, took a third longer on a 1,000-feature page).
    features = f"'[' || coalesce(string_agg({feature}, ', ' ORDER BY {order}), '') || ']'"
    # Composed from KINDS constants and the filter compiler's SQL only; all values are bound parameters.
    if (q.bbox is not None or _spatial(q.cql)) and order == "t.id":
        # One spatial scan for both the count and the page: the matching ids are kept, counted, and
        # only the page's rows are read again by primary key. (Counting and paging in two scans ran
        # the index scan and ST_Intersects twice: ~40 % of a small view's time, and with a wide bbox
        # the planner paged along the primary key, filtering row by row: seconds on 200k rows.)
        # A CQL2 spatial predicate is served the same way. Without either (or sorted by other keys
        # than the id) the two-scan form stays: the page walks the primary key (or sorts), stops early.
        stmt = _statement(
            f"WITH m AS MATERIALIZED (SELECT t.id FROM {src} t WHERE {where})"  # noqa: S608
            f" SELECT (SELECT count(*) FROM m) AS matched, (SELECT {features} FROM {src} t"
            "  WHERE t.id IN (SELECT id FROM m ORDER BY id LIMIT :limit OFFSET :offset)) AS features"
        )
    else:
        stmt = _statement(
            f"SELECT (SELECT count(*) FROM {src} t WHERE {where}) AS matched,"  # noqa: S608
            f" (SELECT {features}"
            f"  FROM (SELECT t.* FROM {src} t WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset) t)"
            " AS features"
        )
    row = conn.execute(stmt, params).one()
    return int(row.matched), row.features


def item(
    conn: Connection, layer: Layer, public: bool, feature_id: int, *, srid: int, flip: bool, decimals: int
) -> str | None:
    """One feature as GeoJSON text, or None."""
    kind = _kind(layer)
    stmt = text(
        f"SELECT {_feature_sql(kind, flip)} FROM {kind.source(public)} t"  # noqa: S608
        " WHERE t.layer_id = :layer_id AND t.id = :fid"
    )
    params = {"layer_id": layer.id, "fid": feature_id, "srid": srid, "decimals": decimals}
    return conn.execute(stmt, params).scalar_one_or_none()


# --- extents, cached by layer revision ---------------------------------------------------------
@dataclass(frozen=True)
class Extent:
    bbox: tuple[float, float, float, float] | None  # lon/lat (CRS84)
    interval: tuple[datetime | None, datetime | None] | None  # only kinds with a feature timestamp


_EXTENTS: dict[tuple[bool, int], tuple[int, Extent]] = {}


def revision(conn: Connection, layer: Layer, public: bool) -> int:
    table = "pub.layer" if public else "gis.layer"
    # Composed from the two constants above only.
    stmt = text(f"SELECT revision FROM {table} WHERE id = :id")  # noqa: S608
    found = conn.execute(stmt, {"id": layer.id}).scalar_one_or_none()
    if found is None:  # withdrawn or deleted since the caller found it (the public instance's layer
        raise LayerNotFound(layer.slug)  # directory hears of it milliseconds after the commit)
    return found


def extent(conn: Connection, layer: Layer, public: bool) -> Extent:
    """The layer's bounding box by ST_Extent (and its time span where it has one). Cached per layer
    revision, which every feature change bumps; tables without revision triggers are not cached."""
    kind = _kind(layer)
    cacheable = kind.table in _REVISIONED
    key = (public, layer.id)
    rev = revision(conn, layer, public) if cacheable else -1
    hit = _EXTENTS.get(key)
    if cacheable and hit and hit[0] == rev:
        return hit[1]
    column = TEMPORAL.get(layer.kind)
    times = f"min(t.{column}), max(t.{column})" if column else "NULL, NULL"
    stmt = text(
        f"SELECT ST_XMin(e) AS x1, ST_YMin(e) AS y1, ST_XMax(e) AS x2, ST_YMax(e) AS y2, t1, t2"  # noqa: S608
        f" FROM (SELECT ST_Extent(t.geom) AS e, {times} FROM {kind.source(public)} t"
        " WHERE t.layer_id = :layer_id) s(e, t1, t2)"
    )
    row = conn.execute(stmt, {"layer_id": layer.id}).one()
    bbox = None if row.x1 is None else (row.x1, row.y1, row.x2, row.y2)
    result = Extent(bbox, (row.t1, row.t2) if column else None)
    if cacheable:
        _EXTENTS[key] = (rev, result)
    return result


# --- queryable properties ------------------------------------------------------------------------
_COLUMN_TYPES: dict[str, dict[str, str]] = {}
_JSONB_KEYS: dict[tuple[bool, int], tuple[int, dict[str, str | None]]] = {}


def _column_types(conn: Connection, relation: str) -> dict[str, str]:
    if relation not in _COLUMN_TYPES:
        rows = conn.execute(
            text(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute"
                " WHERE attrelid = CAST(:rel AS regclass) AND attnum > 0 AND NOT attisdropped"
            ),
            {"rel": relation},
        ).all()
        _COLUMN_TYPES[relation] = {name: typ for name, typ in rows}
    return _COLUMN_TYPES[relation]


def queryables(conn: Connection, layer: Layer, public: bool) -> dict[str, str | None]:
    """Property name -> JSON Schema type (None: mixed). Typed kinds: their typed columns. Generic
    layers: the JSONB keys their features use (cached per layer revision)."""
    kind = _kind(layer)
    if kind.table != "gis.feature":
        types = _column_types(conn, kind.source(public))
        return {c: _JSON_TYPES.get(types.get(c, ""), "string") for c in kind.properties}
    key = (public, layer.id)
    rev = revision(conn, layer, public)
    hit = _JSONB_KEYS.get(key)
    if hit and hit[0] == rev:
        return hit[1]
    rows = conn.execute(
        text(
            "SELECT k, min(jsonb_typeof(v)), max(jsonb_typeof(v))"  # noqa: S608
            f" FROM {kind.source(public)} t, jsonb_each(t.properties) AS p(k, v)"
            " WHERE t.layer_id = :layer_id GROUP BY k ORDER BY k"
        ),
        {"layer_id": layer.id},
    ).all()
    found = {k: (_JSONB_TYPES.get(lo) if lo == hi else None) for k, lo, hi in rows}
    _JSONB_KEYS[key] = (rev, found)
    return found
