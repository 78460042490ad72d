"""The evacuation information (避難情報) as citizens and other systems see it, read from the ``pub`` views
only (``pub.evac_order``, ``pub.evac_order_version``; migration 0024): the orders in force, those
cancelled (解除) recently, the orders at a place, and each order's versions for the Atom feed and CAP.

The citizen-facing role can read nothing else; the views leave out who issued and the reason (an
internal note). Both instances read the same views, so they answer alike.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, text

from gisapp.ops import evac_levels

RECENT_HOURS = 24  # how long a 解除 stays listed, so a resident sees that it ended
FEED_ENTRIES = 100  # versions in the Atom feed, newest first

# The columns of the views are listed, not "*": a column added to a view later must be chosen here on
# purpose before it is published.
_ORDER_COLUMNS = """o.id, o.version, o.level, o.hazard, o.area_codes, o.area_names, o.status,
       o.issued_at, o.updated_at, o.cancelled_at"""
_GEOJSON = "ST_AsGeoJSON(o.geom, 6)"
_CURRENT = """(o.status = 'active' OR o.cancelled_at > now() - make_interval(hours => :hours))"""
_POINT = "ST_Intersects(o.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
_ORDER_BY = "ORDER BY o.status, o.level DESC, o.updated_at DESC, o.id"


def _orders_sql(*, geometry: bool, at_point: bool) -> str:
    columns = _ORDER_COLUMNS + (f", {_GEOJSON} AS geometry" if geometry else "")
    where = _CURRENT + (f" AND {_POINT}" if at_point else "")
    return f"SELECT {columns} FROM pub.evac_order o WHERE {where} {_ORDER_BY}"  # noqa: S608 (fixed parts)


_SQL = {(g, p): text(_orders_sql(geometry=g, at_point=p)) for g in (False, True) for p in (False, True)}
_CHANGES = text("SELECT count(*) AS version, max(at) AS at FROM pub.evac_order_version")
_ONE_VERSION = text(
    """SELECT v.order_id, v.version, v.action, v.level, v.hazard, v.area_codes, v.area_names, v.at,
              ST_AsGeoJSON(v.geom, 6) AS geometry, o.issued_at
         FROM pub.evac_order_version v JOIN pub.evac_order o ON o.id = v.order_id
        WHERE v.order_id = :id AND v.version = :version"""
)
_PREVIOUS = text(
    """SELECT version, at FROM pub.evac_order_version WHERE order_id = :id AND version < :version
        ORDER BY version"""
)
_FEED = text(
    """SELECT v.order_id, v.version, v.action, v.level, v.hazard, v.area_codes, v.area_names, v.at
         FROM pub.evac_order_version v ORDER BY v.at DESC, v.order_id DESC, v.version DESC LIMIT :limit"""
)


# The legend of every level (number, words, colours), so a page names each level without words of its own.
LEVEL_KEY = [
    {
        k: v
        for k, v in evac_levels.describe(n, "").items()
        if k in ("level", "level_label_ja", "level_label_en", "name_ja", "name_en", "colour", "text_colour")
    }
    for n in sorted(evac_levels.LEVELS)
]


def cap_path(order_id: int, version: int) -> str:
    return f"/feeds/evacuation-info/{order_id}-{version}.cap"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _order(row: dict) -> dict:
    out = {
        "id": row["id"],
        "version": row["version"],
        **evac_levels.describe(row["level"], row["hazard"]),
        "status": row["status"],
        "area_codes": list(row["area_codes"]),
        "area_names": list(row["area_names"]),
        "issued_at": _iso(row["issued_at"]),
        "updated_at": _iso(row["updated_at"]),
        "cancelled_at": _iso(row["cancelled_at"]),
        "cap": cap_path(row["id"], row["version"]),
    }
    if "geometry" in row:
        out["geometry"] = json.loads(row["geometry"])
    return out


def changes(conn: Connection) -> tuple[int, datetime | None]:
    """The change counter (order versions so far: the table is append-only) and the last change."""
    row = conn.execute(_CHANGES).one()
    return int(row.version), row.at


def evacuation_info(
    conn: Connection, *, geometry: bool = False, lon: float | None = None, lat: float | None = None
) -> dict:
    """The orders in force (status active) and those cancelled in the last ``RECENT_HOURS``, highest
    level first; with ``lon``/``lat`` only those whose area contains that place, and ``here``: the
    highest level in force there (None: no order in force there)."""
    at_point = lon is not None and lat is not None
    params = {"hours": RECENT_HOURS} | ({"lon": lon, "lat": lat} if at_point else {})
    version, changed_at = changes(conn)
    rows = [dict(r._mapping) for r in conn.execute(_SQL[(geometry, at_point)], params)]
    orders = [_order(r) for r in rows if r["status"] == "active"]
    out: dict = {
        "version": version,
        "changed_at": _iso(changed_at),
        "recent_hours": RECENT_HOURS,
        "orders": orders,
        "cancelled": [_order(r) for r in rows if r["status"] == "cancelled"],
        "levels": LEVEL_KEY,
    }
    if at_point:
        top = max((o["level"] for o in orders), default=None)
        out["here"] = {
            "lon": lon,
            "lat": lat,
            "inside": top is not None,
            "level": top,
            "order_ids": [o["id"] for o in orders],
            **({"describe": evac_levels.describe(top, orders[0]["hazard"])} if top is not None else {}),
        }
    return out


def order_version(conn: Connection, order_id: int, version: int) -> dict | None:
    """One version of an order with its geometry and the earlier versions (CAP ``references``)."""
    row = conn.execute(_ONE_VERSION, {"id": order_id, "version": version}).one_or_none()
    if row is None:
        return None
    out = dict(row._mapping)
    out["geometry"] = json.loads(out["geometry"])
    out["previous"] = [
        dict(r._mapping) for r in conn.execute(_PREVIOUS, {"id": order_id, "version": version})
    ]
    return out


def feed_versions(conn: Connection, limit: int = FEED_ENTRIES) -> list[dict]:
    """The newest order versions (issue, changes, cancel), newest first, for the Atom feed."""
    return [dict(r._mapping) for r in conn.execute(_FEED, {"limit": limit})]
