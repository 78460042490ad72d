"""Name search across the layers a viewer may see (e.g. a citizen looking for a shelter or a road).

One UNION statement over the typed name columns and generic layers' ``name`` property, by
visibility level (internal) or over the ``pub`` views only (public instance). Restricted layers are
never searched: their names are personal data.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, TextClause, text

from layers.catalog import Visibility, visible_levels

MAX_RESULTS = 50

# (table or view, label expression, column searched), per schema. Constants only.
_SOURCES = {
    "gis": (
        ("gis.shelter", "t.name", "t.name || ' ' || t.address"),
        ("gis.road_segment", "t.route_name", "t.route_no || ' ' || t.route_name"),
        ("gis.hazard_area", "t.name", "t.name"),
        ("gis.sewer_pipe", "t.pipe_no", "t.pipe_no"),
        ("gis.feature", "t.properties->>'name'", "t.properties->>'name'"),
    ),
    "pub": (
        ("pub.shelter", "t.name", "t.name || ' ' || t.address"),
        ("pub.road_segment", "t.route_name", "t.route_no || ' ' || t.route_name"),
        ("pub.hazard_area", "t.name", "t.name"),
        ("pub.sewer_pipe", "t.pipe_no", "t.pipe_no"),
        ("pub.feature", "t.properties->>'name'", "t.properties->>'name'"),
    ),
}


def _statement(schema: str) -> TextClause:
    layer = "gis.layer" if schema == "gis" else "pub.layer"
    visible = " AND l.visibility = ANY(:levels)" if schema == "gis" else ""
    parts = [
        f"SELECT l.slug, l.title_ja, l.title_en, t.id, {label} AS label,"  # noqa: S608 - constants only
        f" ST_X(ST_PointOnSurface(t.geom)) AS lon, ST_Y(ST_PointOnSurface(t.geom)) AS lat"
        f" FROM {table} t JOIN {layer} l ON l.id = t.layer_id"
        f" WHERE {searched} ILIKE :pattern ESCAPE '\\'{visible}"
        for table, label, searched in _SOURCES[schema]
    ]
    return text(" UNION ALL ".join(f"({p})" for p in parts) + " ORDER BY label, slug, id LIMIT :limit")


_STATEMENTS = {schema: _statement(schema) for schema in _SOURCES}


def _pattern(q: str) -> str:
    # The query is a literal: LIKE's own wildcards in it match themselves.
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(
    conn: Connection, q: str, *, roles: Iterable[str] | None, public: bool, limit: int = 20
) -> list[dict]:
    params: dict = {"pattern": _pattern(q), "limit": min(limit, MAX_RESULTS)}
    if not public:
        params["levels"] = [v for v in visible_levels(roles) if v != Visibility.restricted]
    rows = conn.execute(_STATEMENTS["pub" if public else "gis"], params)
    return [dict(r._mapping) for r in rows]
