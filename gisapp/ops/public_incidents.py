"""Incidents of the categories HQ made public (e.g. 通行止め), with their status only, read from the
``pub`` views (``pub.incident``, ``pub.incident_category``): the citizen-facing instance's database role
can read nothing else, and the views already leave out title, description, address, source and
reporter, and incidents of closed disasters or cancelled ones. The internal instance reads the same
views, so both show exactly the same."""

from __future__ import annotations

from sqlalchemy import Connection, text

from gisapp.ops.incidents import STATUSES

# The columns of the view are listed, not "*": a column added to the view later must be chosen here
# on purpose before the citizen map shows it.
_INCIDENTS = text(
    """SELECT id, category, category_ja, category_en, status, updated_at,
              ST_X(geom) AS lon, ST_Y(geom) AS lat
         FROM pub.incident
        ORDER BY updated_at DESC, id"""
)
_CATEGORIES = text(
    "SELECT code, name_ja, name_en, public, sort FROM pub.incident_category ORDER BY sort, code"
)


def _feature(row: dict) -> dict:
    ja, en = STATUSES[row["status"]]
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        "properties": {
            "id": row["id"],
            "category": row["category"],
            "category_ja": row["category_ja"],
            "category_en": row["category_en"],
            "status": row["status"],
            "status_ja": ja,
            "status_en": en,
            "updated_at": row["updated_at"].isoformat(),
        },
    }


def public_incidents(conn: Connection) -> dict:
    """The public incidents as a GeoJSON FeatureCollection, newest change first."""
    rows = conn.execute(_INCIDENTS)
    return {"type": "FeatureCollection", "features": [_feature(dict(r._mapping)) for r in rows]}


def public_categories(conn: Connection) -> list[dict]:
    # Every active category (the citizen report form offers them all); `public`: shown on the map.
    return [dict(r._mapping) for r in conn.execute(_CATEGORIES)]
