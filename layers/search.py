"""Name search across the layers a viewer may see (e.g. a citizen looking for a shelter or a road).

One UNION statement over the typed name columns and generic layers' ``name`` property, by
visibility level (internal) or over the ``pub`` views only (public instance). Restricted layers are
never searched: their names are personal data.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, TextClause, text

from layers.catalog import KINDS, Visibility, visible_levels

MAX_RESULTS = 50

# Per kind: (label expression, text searched). Tables and views come from the catalog's KINDS.
_SEARCHED = {
    "shelter": ("t.name", "t.name || ' ' || t.address"),
    "road_segment": ("t.route_name", "t.route_no || ' ' || t.route_name"),
    "hazard_area": ("t.name", "t.name"),
    "sewer_pipe": ("t.pipe_no", "t.pipe_no"),
    "generic": ("t.properties->>'name'", "t.properties->>'name'"),
}


def _statement(public: bool) -> TextClause:
    layer = "pub.layer" if public else "gis.layer"
    # The public views leave deleted layers out themselves (migration 0020).
    visible = "" if public else " AND l.visibility = ANY(:levels) AND l.deleted_at IS NULL"
    parts = [
        f"SELECT l.slug, l.title_ja, l.title_en, t.id, {label} AS label,"  # noqa: S608 - constants only
        f" ST_X(ST_PointOnSurface(t.geom)) AS lon, ST_Y(ST_PointOnSurface(t.geom)) AS lat"
        f" FROM {KINDS[kind].source(public)} t JOIN {layer} l ON l.id = t.layer_id"
        f" WHERE {searched} ILIKE :pattern ESCAPE '\\'{visible}"
        for kind, (label, searched) in _SEARCHED.items()
    ]
    return text(" UNION ALL ".join(f"({p})" for p in parts) + " ORDER BY label, slug, id LIMIT :limit")


_STATEMENTS = {public: _statement(public) for public in (False, True)}


def _pattern(q: str) -> str:
    # The query is a literal: LIKE's own wildcards in it match themselves.
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(
    conn: Connection, q: str, *, roles: Iterable[str] | None, public: bool, limit: int = 20
) -> list[dict]:
    params: dict = {"pattern": _pattern(q), "limit": min(limit, MAX_RESULTS)}
    if not public:
        params["levels"] = [v for v in visible_levels(roles) if v != Visibility.restricted]
    rows = conn.execute(_STATEMENTS[public], params)
    return [dict(r._mapping) for r in rows]
